"""A coarse client fingerprint for fraud signals (not for tracking people).

Many accounts voting with one identical fingerprint from one network is a farm
signal; alone it proves nothing, so it only ever feeds a score for human review.
"""

import hashlib

# As WSGI names them (request.META), read without building request.headers.
FINGERPRINT_HEADERS = ("HTTP_USER_AGENT", "HTTP_ACCEPT_LANGUAGE", "HTTP_X_CLIENT_FINGERPRINT")


def client_fingerprint(request) -> str:
    parts = [request.META.get(name, "")[:512] for name in FINGERPRINT_HEADERS]
    if not any(parts):
        return ""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
