"""Content-Security-Policy on every answer (Django 5.2 has none built in).

Every page is server-rendered and works without JavaScript, so the policy is strict:
nothing but our own files (styles, images, the favicon), no script at all, no plugins,
no ``<base>``, no framing. An injected ``<script>`` or inline ``style``/``on...``
attribute does nothing. A few pages run scripts we ship as files (never inline, never
``eval``), each listed below with why; see docs/decisions/content-security-policy.md.

It sits right after SecurityMiddleware, before the lean API path answers, so that
every response carries it, JSON and static files included; a response that already has
the header (set by its view) keeps its own.
"""

from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"

STRICT = {
    "default-src": "'self'",
    "script-src": "'none'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
}

# Path prefix: what it adds to the strict policy.
RELAXED_FOR = {
    # Swagger UI from drf-spectacular-sidecar (local files; the split view serves its
    # set-up script as a file too). Its stylesheet embeds icons as data: URIs, and the
    # page and the widgets it builds set inline styles.
    "/api/docs/": {"script-src": "'self'", "style-src": "'self' 'unsafe-inline'", "img-src": "'self' data:"},
    # allauth's two-factor pages: a security key (WebAuthn) is driven from JavaScript,
    # allauth's own files; TOTP and recovery codes work without.
    "/accounts/2fa/": {"script-src": "'self'"},
    # Django's admin ships its scripts as files (inlines, autocomplete, actions); the
    # operators' agency set-up needs them.
    "/admin/": {"script-src": "'self'"},
}


def _header_value(directives: dict[str, str]) -> str:
    return "; ".join(f"{name} {value}" for name, value in directives.items())


STRICT_VALUE = _header_value(STRICT)
RELAXED_VALUES = {prefix: _header_value({**STRICT, **extra}) for prefix, extra in RELAXED_FOR.items()}


def policy_for(path: str) -> str:
    for prefix, value in RELAXED_VALUES.items():
        if path.startswith(prefix):
            return value
    return STRICT_VALUE


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = policy_for(request.path_info)
        return response
