"""One error vocabulary: every Code answers its own status with a {code, detail} body,
through the API, plain JSON views and HTML pages alike, and no module outside
voting/errors.py chooses an error status."""

import re
from http import HTTPStatus

import pytest
from django.http import HttpResponse
from django.urls import path
from rest_framework.views import APIView

from tests.helpers import ROOT
from voting import urls as site_urls
from voting.errors import Code, DomainError

pytestmark = pytest.mark.django_db


class RefusingApiView(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request, code: str):
        raise DomainError(Code(code), f"refused with {code}")


def refusing_page(request, code: str) -> HttpResponse:
    raise DomainError(Code(code), f"refused with {code}")


urlpatterns = [
    path("api/refuse/<str:code>/", RefusingApiView.as_view()),
    path("page/refuse/<str:code>/", refusing_page),
    *site_urls.urlpatterns,
]


def test_every_code_carries_a_distinct_error_status():
    values = [code.value for code in Code]
    assert len(values) == len(set(values))
    for code in Code:
        assert isinstance(code.status, HTTPStatus)
        assert 400 <= code.status < 600, code


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("code", list(Code), ids=[code.value for code in Code])
def test_every_code_answers_its_status_with_a_code_and_detail_body(client, code):
    api = client.get(f"/api/refuse/{code.value}/")
    as_json = client.get(f"/page/refuse/{code.value}/", HTTP_ACCEPT="application/json")
    page = client.get(f"/page/refuse/{code.value}/")

    for response in (api, as_json):
        assert response.status_code == code.status
        assert response.json() == {"code": code.value, "detail": f"refused with {code.value}"}
    assert page.status_code == code.status
    assert page["Content-Type"].startswith("text/html")


def test_extra_fields_of_a_refusal_join_the_body_and_empty_ones_are_left_out():
    refusal = DomainError(Code.NOT_ELIGIBLE, "no", reason="country", fields={})

    assert refusal.http_status == HTTPStatus.FORBIDDEN
    assert refusal.as_body() == {"code": "not_eligible", "detail": "no", "reason": "country"}


def test_an_unknown_code_cannot_be_raised():
    with pytest.raises(ValueError):
        DomainError("made_up_code", "no")


# An error status written as a literal: HTTPStatus members of 4xx/5xx, DRF's
# status.HTTP_4xx/5xx constants, or a bare 4xx/5xx given as a status.
ERROR_STATUS = re.compile(
    r"HTTPStatus\.(BAD_REQUEST|UNAUTHORIZED|FORBIDDEN|NOT_FOUND|METHOD_NOT_ALLOWED|NOT_ACCEPTABLE|"
    r"CONFLICT|GONE|UNPROCESSABLE_ENTITY|TOO_MANY_REQUESTS|INTERNAL_SERVER_ERROR|SERVICE_UNAVAILABLE|"
    r"UNSUPPORTED_MEDIA_TYPE|REQUEST_ENTITY_TOO_LARGE)"
    r"|status\.HTTP_[45]\d\d"
    r"|status(_code)?\s*=\s*[45]\d\d"
)


def test_no_module_outside_the_vocabulary_chooses_an_error_status():
    offenders = []
    for package in ("accounts", "polls", "voting", "bench"):
        for source in (ROOT / package).rglob("*.py"):
            if "migrations" in source.parts or source == ROOT / "voting" / "errors.py":
                continue
            for number, line in enumerate(source.read_text().splitlines(), start=1):
                if ERROR_STATUS.search(line):
                    offenders.append(f"{source.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
