"""The main pages answer, in every shipped language, with no external assets."""

from http import HTTPStatus

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/accounts/signup/", "/accounts/login/", "/api/schema/", "/api/docs/"])
def test_main_pages_answer_200(client, path):
    assert client.get(path).status_code == HTTPStatus.OK


@pytest.mark.parametrize("language", [code for code, _ in settings.LANGUAGES])
def test_home_renders_in_every_shipped_language(client, language):
    response = client.get("/", headers={"Accept-Language": language})

    assert response.status_code == HTTPStatus.OK
    assert f'<html lang="{language}">' in response.content.decode()


def test_api_docs_load_no_assets_from_a_cdn(client):
    page = client.get("/api/docs/").content.decode()

    assert "cdn" not in page.lower()
    assert "/static/drf_spectacular_sidecar/" in page


def test_health_endpoint_reports_database_and_cache(client):
    response = client.get("/healthz")

    assert response.status_code == HTTPStatus.OK
    assert response.json()["checks"] == {"database": "ok", "cache": "ok"}


def test_forms_carry_csrf_tokens(client):
    page = client.get("/accounts/signup/").content.decode()

    assert "csrfmiddlewaretoken" in page
