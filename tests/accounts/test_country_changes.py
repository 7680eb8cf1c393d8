"""The declared country decides who may vote in country-limited polls, so it changes
rarely and on the record: once per COUNTRY_CHANGE_MIN_DAYS, never while the fan's
ballots stand in an open country-limited poll, every change kept (who, when, from, to)."""

import threading
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import CountryChange, User
from accounts.services import user_profile_update
from polls.services import ballot_cast
from tests.factories import PollFactory, UserFactory
from tests.helpers import close
from voting.errors import Code, DomainError

pytestmark = pytest.mark.django_db


def save_profile(client, *, country: str):
    return client.post(
        reverse("profile"),
        {"display_name": "Mina", "country": country, "preferred_language": "", "time_zone": "UTC"},
    )


def country_error_codes(response) -> list[str]:
    return [error.code for error in response.context["form"].errors.as_data()["country"]]


@pytest.fixture
def fan(client):
    user = UserFactory(verified=True)
    client.force_login(user)
    return user


def test_a_country_change_is_recorded_with_who_when_from_and_to(client, fan):
    response = save_profile(client, country="KR")

    assert response.status_code == HTTPStatus.FOUND
    change = CountryChange.objects.get(user=fan)
    assert (change.changed_by, change.from_country.code, change.to_country.code) == (fan, "", "KR")
    assert timezone.now() - change.changed_at < timedelta(minutes=1)
    fan.refresh_from_db()
    assert fan.country.code == "KR"


def test_a_second_change_within_the_interval_is_refused_with_a_clear_message(client, fan):
    save_profile(client, country="JP")

    response = save_profile(client, country="KR")

    assert response.status_code == HTTPStatus.CONFLICT
    assert country_error_codes(response) == [Code.COUNTRY_CHANGE_LOCKED]
    assert "again from" in response.content.decode()
    fan.refresh_from_db()
    assert fan.country.code == "JP"
    assert CountryChange.objects.filter(user=fan).count() == 1


def test_saving_the_profile_without_changing_the_country_is_not_a_change(client, fan):
    save_profile(client, country="JP")

    response = save_profile(client, country="JP")

    assert response.status_code == HTTPStatus.FOUND
    assert CountryChange.objects.filter(user=fan).count() == 1


def test_clearing_the_country_counts_as_a_change(client, fan):
    # Otherwise JP → "" → KR would be two free steps around the rule.
    save_profile(client, country="JP")

    response = save_profile(client, country="")

    assert response.status_code == HTTPStatus.CONFLICT


def test_the_country_may_change_again_once_the_interval_has_passed(client, fan, settings):
    settings.COUNTRY_CHANGE_MIN_DAYS = 30
    save_profile(client, country="JP")
    CountryChange.objects.filter(user=fan).update(changed_at=timezone.now() - timedelta(days=31))

    response = save_profile(client, country="KR")

    assert response.status_code == HTTPStatus.FOUND
    fan.refresh_from_db()
    assert fan.country.code == "KR"


def test_the_interval_is_a_setting(client, fan, settings):
    settings.COUNTRY_CHANGE_MIN_DAYS = 0
    save_profile(client, country="JP")

    assert save_profile(client, country="KR").status_code == HTTPStatus.FOUND


def test_a_fan_who_voted_in_an_open_country_limited_poll_keeps_the_country(client, fan, settings):
    settings.COUNTRY_CHANGE_MIN_DAYS = 0
    save_profile(client, country="KR")
    poll = PollFactory(blocked_countries=["JP"])
    ballot_cast(poll=poll, voter=User.objects.get(pk=fan.pk), choices=[poll.options.first().pk])

    response = save_profile(client, country="US")

    assert response.status_code == HTTPStatus.CONFLICT
    assert country_error_codes(response) == [Code.COUNTRY_CHANGE_LOCKED]
    fan.refresh_from_db()
    assert fan.country.code == "KR"

    close(poll)
    assert save_profile(client, country="US").status_code == HTTPStatus.FOUND


def test_ballots_in_polls_open_to_every_country_do_not_hold_the_country(client, fan, settings):
    settings.COUNTRY_CHANGE_MIN_DAYS = 0
    save_profile(client, country="KR")
    poll = PollFactory()
    ballot_cast(poll=poll, voter=User.objects.get(pk=fan.pk), choices=[poll.options.first().pk])

    assert save_profile(client, country="US").status_code == HTTPStatus.FOUND


def test_the_service_refuses_with_a_stable_code_and_reason(fan):
    user_profile_update(user=fan, display_name="", country="JP", preferred_language="", time_zone="UTC")

    with pytest.raises(DomainError) as refusal:
        user_profile_update(user=fan, display_name="", country="KR", preferred_language="", time_zone="UTC")

    assert refusal.value.code == Code.COUNTRY_CHANGE_LOCKED
    assert refusal.value.reason == "recent_change"


@pytest.mark.django_db(transaction=True)
def test_two_changes_sent_at_once_cannot_both_pass():
    fan = UserFactory(verified=True)
    barrier = threading.Barrier(2)
    outcomes = []

    def change(country: str) -> None:
        try:
            barrier.wait()
            user_profile_update(
                user=fan, display_name="", country=country, preferred_language="", time_zone="UTC"
            )
            outcomes.append("changed")
        except DomainError as refusal:
            outcomes.append(refusal.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=change, args=(country,)) for country in ("JP", "KR")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == sorted(["changed", Code.COUNTRY_CHANGE_LOCKED])
    assert CountryChange.objects.filter(user=fan).count() == 1
