"""What the API fuzzing found, pinned as plain tests so that it stays fixed whatever the
fuzzer happens to draw on a given run."""

from http import HTTPStatus

import pytest

from tests.factories import DraftPollFactory
from tests.helpers import AGENCY_API, post_json

pytestmark = pytest.mark.django_db


def test_agency_list_filter_with_a_nul_byte_is_a_400_not_a_500(manager_client):
    response = manager_client.get(f"{AGENCY_API}/polls/", {"agency": "^\x00"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "invalid"
    assert "agency" in response.json()["fields"]


def test_agency_lists_answer_a_page_as_the_schema_says(manager_client, agency):
    DraftPollFactory(agency=agency)

    polls = manager_client.get(f"{AGENCY_API}/polls/").json()
    audit = manager_client.get(f"{AGENCY_API}/agencies/{agency.slug}/audit/").json()

    for page in (polls, audit):
        assert set(page) == {"count", "next", "previous", "results"}


def test_errors_of_a_list_field_are_keyed_by_index(manager_client, agency):
    response = post_json(
        manager_client,
        f"{AGENCY_API}/polls/",
        {
            "agency": agency.slug,
            "title": "Cities",
            "kind": "city",
            "opens_at": "2030-01-01T00:00:00Z",
            "closes_at": "2030-01-02T00:00:00Z",
            "allowed_countries": ["KR", "KOR"],
        },
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert list(response.json()["fields"]["allowed_countries"]) == ["1"]


def test_published_schema_documents_pages_nested_field_errors_and_kind_specific_option_fields(client):
    schema = client.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    paths = schema["paths"]

    listed = paths["/api/v1/agency/polls/"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    assert listed["$ref"].endswith("/PaginatedAgencyPollOutputList")
    field_errors = components["Error"]["properties"]["fields"]["additionalProperties"]
    assert {"type": "object"} in field_errors["oneOf"]
    assert "country" not in components["AgencyOptionOutput"]["required"]
    assert "404" in paths["/api/v1/polls/{slug}/votes/"]["post"]["responses"]
