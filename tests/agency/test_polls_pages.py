"""The agency's poll pages: list, create and edit forms, options and the schedule,
close and cancel buttons, with CSRF enforced and the real login session."""

import re
from datetime import UTC, timedelta
from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from polls.models import Poll, PollState
from tests.factories import DraftPollFactory, PollFactory, mfa_enable
from tests.helpers import draft_without_options, login_with_mfa, png_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_in_tmp")]


def test_agency_home_links_to_the_poll_pages(manager_client, agency):
    page = manager_client.get("/agency/").content.decode()

    assert f"/agency/{agency.slug}/polls/" in page


def test_poll_list_and_page_render_with_status_and_turnout(manager_client, agency):
    poll = PollFactory(agency=agency, title="Encore tour")

    listing = manager_client.get(f"/agency/{agency.slug}/polls/")
    page = manager_client.get(f"/agency/{agency.slug}/polls/{poll.slug}/")

    assert listing.status_code == HTTPStatus.OK
    assert "Encore tour" in listing.content.decode()
    assert "Open" in listing.content.decode()
    assert page.status_code == HTTPStatus.OK
    body = page.content.decode()
    assert "0 ballots" in body
    assert "Seoul" in body
    assert "two-factor" in body  # the manager has no MFA yet
    assert f'action="/agency/{agency.slug}/polls/{poll.slug}/close/"' in body


def test_create_form_works_and_enforces_csrf(agency, manager):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(manager)
    form_page = browser.get(f"/agency/{agency.slug}/polls/new/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form_page.content.decode()).group(1)
    fields = {
        "title": "Next single",
        "kind": "single",
        "method": "single",
        "min_choices": 1,
        "max_choices": 1,
        "votes_per_period": 3,
        "period": "daily",
        "timezone": "Asia/Seoul",
        "opens_at": "2031-05-01T20:00",
        "closes_at": "2031-05-08T20:00",
        "results_visibility": "after_close",
        "least_verification": "email",
        "least_account_age_days": 7,
    }

    refused = browser.post(f"/agency/{agency.slug}/polls/new/", fields)
    response = browser.post(f"/agency/{agency.slug}/polls/new/", {**fields, "csrfmiddlewaretoken": token})

    assert form_page.status_code == HTTPStatus.OK
    assert refused.status_code == HTTPStatus.FORBIDDEN
    assert response.status_code == HTTPStatus.FOUND
    poll = Poll.objects.get()
    assert response["Location"] == f"/agency/{agency.slug}/polls/{poll.slug}/"
    assert re.fullmatch(r"next-single-[0-9a-f]{6}", poll.slug)
    assert poll.votes_per_period == 3
    assert poll.least_account_age == timedelta(days=7)
    # 20:00 in Seoul (UTC+9) is 11:00 UTC.
    assert poll.opens_at.astimezone(UTC).hour == 11
    assert browser.get(response["Location"]).status_code == HTTPStatus.OK


def test_create_form_shows_errors_instead_of_failing(manager_client, agency):
    response = manager_client.post(
        f"/agency/{agency.slug}/polls/new/",
        {
            "title": "Backwards",
            "kind": "other",
            "method": "single",
            "min_choices": 1,
            "max_choices": 1,
            "votes_per_period": 1,
            "period": "once",
            "timezone": "UTC",
            "opens_at": "2031-05-08T20:00",
            "closes_at": "2031-05-01T20:00",
            "results_visibility": "live",
            "least_verification": "email",
            "least_account_age_days": 0,
        },
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "The poll must close after it opens." in response.content.decode()
    assert not Poll.objects.exists()


def test_analyst_sees_the_list_but_not_the_create_form(client, agency, analyst):
    client.force_login(analyst)

    assert client.get(f"/agency/{agency.slug}/polls/").status_code == HTTPStatus.OK
    assert client.get(f"/agency/{agency.slug}/polls/new/").status_code == HTTPStatus.FORBIDDEN


def test_design_option_upload_and_removal_through_the_page(manager_client, agency):
    poll = draft_without_options(agency, kind="design")
    page_url = f"/agency/{agency.slug}/polls/{poll.slug}/"

    page = manager_client.get(page_url).content.decode()
    added = manager_client.post(
        f"{page_url}options/",
        {"label": "Tee", "image": SimpleUploadedFile("tee.png", png_bytes(), content_type="image/png")},
    )
    fake = manager_client.post(
        f"{page_url}options/",
        {"label": "Fake", "image": SimpleUploadedFile("fake.png", b"not an image", content_type="image/png")},
    )

    assert 'enctype="multipart/form-data"' in page
    assert added.status_code == HTTPStatus.FOUND
    assert fake.status_code == HTTPStatus.BAD_REQUEST
    assert "not a PNG, JPEG or WebP image" in fake.content.decode()
    option = poll.options.get()
    assert option.label == "Tee"
    removed = manager_client.post(f"{page_url}options/{option.pk}/remove/")
    assert removed.status_code == HTTPStatus.FOUND
    assert not poll.options.exists()


def test_schedule_and_cancel_buttons_on_the_page(client, agency, manager):
    poll = DraftPollFactory(agency=agency)
    page_url = f"/agency/{agency.slug}/polls/{poll.slug}/"
    client.force_login(manager)

    without_mfa = client.post(f"{page_url}schedule/", follow=True)
    poll.refresh_from_db()
    assert poll.state == PollState.DRAFT
    assert "two-factor" in without_mfa.content.decode()

    mfa_enable(manager)
    login_with_mfa(client, manager)  # signs in again, now with the second factor
    scheduled = client.post(f"{page_url}schedule/", follow=True)
    poll.refresh_from_db()
    assert scheduled.status_code == HTTPStatus.OK
    assert poll.state == PollState.SCHEDULED
    assert f'action="{page_url}options/"' not in scheduled.content.decode()  # frozen: no option form

    client.post(f"{page_url}cancel/")
    poll.refresh_from_db()
    assert poll.state == PollState.CANCELLED


def test_edit_form_on_a_draft_saves_rules(manager_client, agency):
    poll = DraftPollFactory(agency=agency, title="Draft")
    fields = {
        "title": "Draft, edited",
        "slug": poll.slug,
        "kind": "other",
        "method": "multiple",
        "min_choices": 1,
        "max_choices": 2,
        "votes_per_period": 1,
        "period": "once",
        "timezone": "UTC",
        "opens_at": "2031-05-01T20:00",
        "closes_at": "2031-05-08T20:00",
        "results_visibility": "live",
        "least_verification": "phone",
        "least_account_age_days": 0,
        "allowed_countries": ["KR", "JP"],
    }

    response = manager_client.post(f"/agency/{agency.slug}/polls/{poll.slug}/edit/", fields)

    assert response.status_code == HTTPStatus.FOUND
    poll.refresh_from_db()
    assert poll.title == "Draft, edited"
    assert poll.max_choices == 2
    assert sorted(country.code for country in poll.allowed_countries) == ["JP", "KR"]
