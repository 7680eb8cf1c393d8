"""Every answer carries a strict Content-Security-Policy: no script, no plugin, no
``<base>``, no framing, nothing but our own files. Only the API docs (Swagger UI from
local files), allauth's two-factor pages (security keys) and the admin may run the
scripts we ship as files; no page allows inline or injected scripts. No template
needs an inline style."""

import re
from http import HTTPStatus
from pathlib import Path

import pytest
from django.conf import settings

from polls.models import PollKind, ResultsVisibility
from tests.factories import PollFactory
from tests.helpers import login_with_mfa, session_token

pytestmark = pytest.mark.django_db

STRICT = "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"


def directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


@pytest.fixture
def live_city_poll(db):
    return PollFactory(kind=PollKind.CITY, results_visibility=ResultsVisibility.LIVE)


@pytest.mark.parametrize(
    "page",
    [
        "/",
        "/polls/{poll}/",
        "/polls/{poll}/results/",
        "/receipts/",
        "/accounts/login/",
        "/accounts/signup/",
        "/api/v1/polls/",
        "/api/v1/polls/{poll}/",
        "/api/v1/polls/{poll}/results/",
        "/api/schema/",
        "/healthz",
        "/no-such-page/",
    ],
)
def test_every_page_type_carries_the_strict_policy(client, live_city_poll, page):
    response = client.get(page.format(poll=live_city_poll.slug))

    assert response.status_code < HTTPStatus.INTERNAL_SERVER_ERROR
    assert response["Content-Security-Policy"] == STRICT


def test_the_admin_login_is_allauths_sign_in_page_under_the_strict_policy(client):
    response = client.get("/admin/login/?next=/admin/", follow=True)

    assert response.redirect_chain[0][0].startswith("/accounts/login/")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Security-Policy"] == STRICT


def test_agency_pages_carry_the_strict_policy(client, agency, manager, live_city_poll):
    poll = PollFactory(agency=agency)
    login_with_mfa(client, manager)

    for page in (
        "/agency/",
        f"/agency/{agency.slug}/polls/",
        f"/agency/{agency.slug}/polls/{poll.slug}/",
        f"/agency/{agency.slug}/members/",
        "/api/v1/agency/polls/",
    ):
        response = client.get(page)
        assert response.status_code == HTTPStatus.OK, page
        assert response["Content-Security-Policy"] == STRICT, page


def test_a_vote_answered_by_the_lean_path_carries_the_strict_policy(client, verified_fan, live_city_poll):
    option = live_city_poll.options.first().pk

    response = client.post(
        f"/api/v1/polls/{live_city_poll.slug}/votes/",
        {"choices": [option]},
        content_type="application/json",
        headers={"X-Session-Token": session_token(verified_fan)},
    )

    assert response.status_code == HTTPStatus.CREATED
    assert response["Content-Security-Policy"] == STRICT


def test_the_api_docs_may_run_their_own_files_and_nothing_inline(client):
    page = client.get("/api/docs/")
    policy = directives(page)
    html = page.content.decode()

    assert policy["script-src"] == "'self'"
    assert "'unsafe-eval'" not in page["Content-Security-Policy"]
    assert policy["object-src"] == policy["base-uri"] == policy["frame-ancestors"] == "'none'"
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts
    assert all('src="/' in attributes and not body.strip() for attributes, body in scripts)
    setup = re.search(r'<script src="(/api/docs/\?[^"]+)"', html).group(1).replace("&amp;", "&")
    assert client.get(setup).status_code == HTTPStatus.OK


def test_security_key_pages_and_the_admin_may_run_their_own_files(client, verified_fan):
    operator = verified_fan
    operator.is_staff = operator.is_superuser = True
    operator.save()
    login_with_mfa(client, operator)

    for page in ("/accounts/2fa/", "/admin/", "/admin/accounts/agency/add/"):
        response = client.get(page)
        assert response.status_code == HTTPStatus.OK, page
        assert directives(response)["script-src"] == "'self'", page
        assert "unsafe" not in response["Content-Security-Policy"], page


def test_no_template_has_an_inline_style_or_script():
    templates = Path(settings.BASE_DIR, "templates").rglob("*.html")
    offenders = [
        str(path)
        for path in templates
        if re.search(r"\sstyle=|<style|<script(?![^>]*\bsrc=)|\son[a-z]+=", path.read_text())
    ]

    assert offenders == []


def test_results_bars_and_map_need_no_inline_style(client, live_city_poll):
    html = client.get(f"/polls/{live_city_poll.slug}/results/").content.decode()

    assert 'class="bar-fill"' in html
    assert " style=" not in html
