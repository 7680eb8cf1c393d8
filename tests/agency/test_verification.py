"""Only agencies verified by an operator may open polls to fans."""

from http import HTTPStatus

import pytest

from accounts.models import Agency
from tests.factories import DraftPollFactory, MembershipFactory, mfa_enable
from tests.helpers import login_with_mfa

pytestmark = pytest.mark.django_db


def test_unverified_agency_cannot_schedule_a_poll(client):
    agency = Agency.objects.create(name="New Label", slug="new-label")  # not verified
    manager = MembershipFactory(agency=agency, role="manager").user
    mfa_enable(manager)
    poll = DraftPollFactory(agency=agency)
    login_with_mfa(client, manager)

    response = client.post(f"/api/v1/agency/polls/{poll.slug}/schedule/", content_type="application/json")

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "agency_unverified"
    poll.refresh_from_db()
    assert poll.state == "draft"
