"""A fan follows an artist, proposes a city and supports another on a phone with
JavaScript off; the agency promotes them into a draft poll; the task worker delivers
the notice and the fan finds it in the inbox."""

import pytest
from playwright.sync_api import expect

from polls.models import Poll
from polls.participation import services
from polls.participation.models import Follow, Proposal, Support
from tests.factories import UserFactory
from tests.fans.test_browser import (  # noqa: F401 - pytest fixtures
    NO_SIDEWAYS_SCROLL,
    PHONE,
    browser,
    browser_type_launch_args,
    log_in_with_session_cookie,
    playwright,
)
from tests.notifications.conftest import run_task_worker  # noqa: F401 - a pytest fixture
from tests.participation.conftest import open_call

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_fan_proposes_supports_the_agency_promotes_and_the_fan_is_told(
    browser,  # noqa: F811
    live_server,
    agency,
    manager,
    artist,
    run_task_worker,  # noqa: F811
):
    call = open_call(artist)
    services.proposal_create(call=call, fan=UserFactory(verified=True), city_name="Seoul")
    fan = UserFactory(verified=True)
    context = browser.new_context(java_script_enabled=False, **PHONE)
    log_in_with_session_cookie(context, live_server.url, fan)
    page = context.new_page()

    page.goto(f"{live_server.url}/artists/{artist.slug}/")
    page.get_by_role("button", name=f"Follow {artist.name}").click()
    expect(page.get_by_role("button", name="Unfollow")).to_be_visible()
    assert Follow.objects.filter(fan=fan, artist=artist).exists()

    page.get_by_role("link", name=call.question).click()
    page.get_by_label("Search a city").fill("Djakarta")
    page.get_by_role("button", name="Search").click()
    page.get_by_label("Jakarta (ID)").check()
    page.get_by_role("button", name="Send my suggestion").click()
    expect(page.get_by_role("heading", name="Jakarta")).to_be_visible()
    page.get_by_role("button", name="Support Seoul").click()
    expect(page.get_by_text("You support “Seoul”.")).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    jakarta = Proposal.objects.get(call=call, geoname_id=1642911)
    assert Support.objects.filter(voter=fan).count() == 2
    context.close()

    staff = browser.new_context(java_script_enabled=False, **PHONE)
    log_in_with_session_cookie(staff, live_server.url, manager)
    page = staff.new_page()
    page.goto(f"{live_server.url}/agency/{agency.slug}/calls/{call.pk}/")
    page.get_by_label("Jakarta", exact=True).check()
    page.get_by_label("Seoul", exact=True).check()
    page.get_by_label("Title of the new poll (optional)").fill("Tour 2027: the fans' cities")
    page.get_by_role("button", name="Promote the chosen ones into a new draft poll").click()
    poll = Poll.objects.get(title="Tour 2027: the fans' cities")
    expect(page).to_have_url(f"{live_server.url}/agency/{agency.slug}/polls/{poll.slug}/")
    assert sorted(poll.options.values_list("label", flat=True)) == ["Jakarta", "Seoul"]
    assert poll.artist_id == artist.pk and jakarta.pk
    staff.close()

    run_task_worker()
    fan_again = browser.new_context(java_script_enabled=False, **PHONE)
    log_in_with_session_cookie(fan_again, live_server.url, fan)
    page = fan_again.new_page()
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Notifications 1 unread").click()
    expect(page.get_by_text("Jakarta", exact=False).first).to_be_visible()
    assert fan.notifications.filter(kind="suggestion_promoted").count() == 1
    fan_again.close()
