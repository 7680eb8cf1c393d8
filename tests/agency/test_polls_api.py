"""The agency API for polls: create, edit, options, schedule, close, cancel, turnout,
audit, through the real API routes with the real authentication. The agency's poll
pages are in test_polls_pages.py."""

import io
import re
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from accounts.models import AuditLogEntry
from polls.models import Ballot, Option, Poll, PollState, PollStatus
from tests.factories import (
    TEST_PASSWORD,
    AgencyFactory,
    DraftPollFactory,
    MembershipFactory,
    PollFactory,
    UserFactory,
    mfa_enable,
)
from tests.helpers import AGENCY_API as API
from tests.helpers import draft_without_options, login_with_mfa, patch_json, png_bytes, post_json

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_in_tmp")]


@pytest.fixture
def mfa_manager_client(client, manager):
    mfa_enable(manager)
    return login_with_mfa(client, manager)


def poll_payload(agency, **overrides) -> dict:
    now = timezone.now()
    return {
        "agency": agency.slug,
        "title": "Next tour city",
        "kind": "city",
        "opens_at": (now + timedelta(days=1)).isoformat(),
        "closes_at": (now + timedelta(days=8)).isoformat(),
        **overrides,
    }


# ------------------------------------------------------------------ creating


def test_manager_creates_a_draft_with_a_slug_made_from_the_title(manager_client, agency, manager):
    first = post_json(manager_client, f"{API}/polls/", poll_payload(agency, allowed_countries=["kr", "JP"]))
    second = post_json(manager_client, f"{API}/polls/", poll_payload(agency))

    assert first.status_code == HTTPStatus.CREATED, first.json()
    assert re.fullmatch(r"next-tour-city-[0-9a-f]{6}", first.json()["slug"])  # tests/agency/test_slugs.py
    assert first.json()["state"] == "draft"
    assert first.json()["status"] == "draft"
    assert first.json()["options"] == []
    assert first.json()["allowed_countries"] == ["JP", "KR"]
    assert second.json()["slug"] != first.json()["slug"]
    poll = Poll.objects.get(slug=first.json()["slug"])
    assert poll.agency == agency
    assert poll.created_by == manager


@pytest.mark.parametrize("title", ["다음 투어 도시", "次のシングル"])
def test_titles_without_latin_letters_still_get_a_valid_slug(manager_client, agency, title):
    response = post_json(manager_client, f"{API}/polls/", poll_payload(agency, title=title))

    assert response.status_code == HTTPStatus.CREATED
    assert re.fullmatch(r"poll-[0-9a-f]{8}", response.json()["slug"])
    assert response.json()["title"] == title


def test_a_taken_slug_is_refused_with_400(manager_client, agency):
    PollFactory(slug="taken")

    response = post_json(manager_client, f"{API}/polls/", poll_payload(agency, slug="taken"))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "invalid"
    assert "slug" in response.json()["fields"]


def test_analyst_cannot_create_a_poll(client, agency, analyst):
    client.force_login(analyst)

    response = post_json(client, f"{API}/polls/", poll_payload(agency))

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "permission_denied"
    assert not Poll.objects.exists()


def test_anonymous_gets_401(client, agency):
    response = post_json(client, f"{API}/polls/", poll_payload(agency))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["code"] == "not_authenticated"


def test_creating_in_an_agency_one_is_not_a_member_of_is_404(manager_client):
    other = AgencyFactory()

    response = post_json(manager_client, f"{API}/polls/", poll_payload(other))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["code"] == "not_found"
    assert not Poll.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"closes_at": (timezone.now() - timedelta(days=3)).isoformat()}, "closes_at"),
        ({"method": "single", "max_choices": 3}, "max_choices"),
        ({"method": "multiple", "min_choices": 3, "max_choices": 2}, "max_choices"),
        ({"allowed_countries": ["ZZ"]}, "allowed_countries"),
        ({"allowed_countries": ["KR"], "blocked_countries": ["kr"]}, "blocked_countries"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"opens_at": "soon"}, "opens_at"),
        ({"min_choices": "many"}, "min_choices"),
        ({"votes_per_period": 1000}, "votes_per_period"),
        ({"title": ["not", "text"]}, "title"),
        ({"kind": "referendum"}, "kind"),
        ({"slug": "Not A Slug!"}, "slug"),
        ({"slug": "new"}, "slug"),
    ],
)
def test_invalid_poll_data_is_refused_with_400_and_the_field(manager_client, agency, overrides, field):
    response = post_json(manager_client, f"{API}/polls/", poll_payload(agency, **overrides))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    assert not Poll.objects.exists()


def test_a_body_that_is_not_json_is_400(manager_client):
    response = manager_client.post(f"{API}/polls/", "{not json", content_type="application/json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "parse_error"


# ------------------------------------------------------------------ reading


def test_list_shows_only_the_members_agencies_and_filters_by_agency(manager_client, agency, manager):
    second = MembershipFactory(user=manager, role="analyst").agency
    mine = DraftPollFactory(agency=agency)
    also_mine = DraftPollFactory(agency=second)
    DraftPollFactory()  # another agency's

    everything = manager_client.get(f"{API}/polls/")
    filtered = manager_client.get(f"{API}/polls/", {"agency": second.slug})

    assert everything.status_code == HTTPStatus.OK
    assert {poll["slug"] for poll in everything.json()["results"]} == {mine.slug, also_mine.slug}
    assert [poll["slug"] for poll in filtered.json()["results"]] == [also_mine.slug]


def test_another_agencys_poll_is_404_everywhere(manager_client, agency):
    poll = DraftPollFactory()  # another agency
    option = poll.options.first()

    answers = [
        manager_client.get(f"{API}/polls/{poll.slug}/"),
        patch_json(manager_client, f"{API}/polls/{poll.slug}/", {"title": "Mine now"}),
        post_json(manager_client, f"{API}/polls/{poll.slug}/options/", {"label": "Busan"}),
        patch_json(manager_client, f"{API}/polls/{poll.slug}/options/{option.pk}/", {"label": "X"}),
        manager_client.delete(f"{API}/polls/{poll.slug}/options/{option.pk}/"),
        post_json(manager_client, f"{API}/polls/{poll.slug}/schedule/"),
        post_json(manager_client, f"{API}/polls/{poll.slug}/close/"),
        post_json(manager_client, f"{API}/polls/{poll.slug}/cancel/"),
        manager_client.get(f"{API}/polls/{poll.slug}/stats/"),
        manager_client.get(f"{API}/agencies/{poll.agency.slug}/audit/"),
        manager_client.get(f"{API}/polls/", {"agency": poll.agency.slug}),
        manager_client.get(f"/agency/{poll.agency.slug}/polls/"),
        manager_client.get(f"/agency/{agency.slug}/polls/{poll.slug}/"),
    ]

    assert [answer.status_code for answer in answers] == [HTTPStatus.NOT_FOUND] * len(answers)
    assert all(answer.json()["code"] == "not_found" for answer in answers[:-2])
    poll.refresh_from_db()
    assert poll.title != "Mine now"
    assert poll.options.count() == 3
    assert not AuditLogEntry.objects.exists()


def test_an_option_of_another_poll_is_404(manager_client, agency):
    poll = DraftPollFactory(agency=agency)
    foreign_option = DraftPollFactory().options.first()

    response = manager_client.delete(f"{API}/polls/{poll.slug}/options/{foreign_option.pk}/")

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert Option.objects.filter(pk=foreign_option.pk).exists()


# ------------------------------------------------------------------ options by kind


def test_city_options_need_country_and_coordinates_in_range(manager_client, agency):
    poll = DraftPollFactory(agency=agency, kind="city", option_labels=["placeholder"])
    url = f"{API}/polls/{poll.slug}/options/"

    missing = post_json(manager_client, url, {"label": "Busan"})
    out_of_range = manager_client.post(
        url,
        {"label": "Busan", "country": "KR", "latitude": 91, "longitude": 129.07},
        content_type="application/json",
    )
    unknown_country = post_json(
        manager_client, url, {"label": "Busan", "country": "ZZ", "latitude": 35.1, "longitude": 129.07}
    )
    good = post_json(
        manager_client,
        url,
        {
            "label": "Busan",
            "country": "kr",
            "latitude": 35.1796,
            "longitude": 129.0756,
            "population": 3_400_000,
        },
    )

    assert missing.status_code == HTTPStatus.BAD_REQUEST
    assert set(missing.json()["fields"]) >= {"country", "latitude", "longitude"}
    assert out_of_range.status_code == HTTPStatus.BAD_REQUEST
    assert "latitude" in out_of_range.json()["fields"]
    assert unknown_country.status_code == HTTPStatus.BAD_REQUEST
    assert "country" in unknown_country.json()["fields"]
    assert good.status_code == HTTPStatus.CREATED, good.json()
    assert good.json()["country"] == "KR"
    assert good.json()["latitude"] == pytest.approx(35.1796)
    assert "artist" not in good.json()
    assert poll.options.count() == 2


def test_single_options_need_artist_and_track_and_an_http_preview(manager_client, agency):
    poll = draft_without_options(agency, kind="single")
    url = f"{API}/polls/{poll.slug}/options/"

    missing = post_json(manager_client, url, {"label": "A"})
    bad_preview = post_json(
        manager_client,
        url,
        {"label": "A", "artist": "X", "track": "Y", "preview_url": "ftp://x.example/a.mp3"},
    )
    script = post_json(
        manager_client, url, {"label": "A", "artist": "X", "track": "Y", "preview_url": "javascript:alert(1)"}
    )
    good = post_json(
        manager_client,
        url,
        {"label": "A", "artist": "X", "track": "Y", "preview_url": "https://x.example/a.mp3"},
    )

    assert missing.status_code == HTTPStatus.BAD_REQUEST
    assert set(missing.json()["fields"]) == {"artist", "track"}
    assert bad_preview.status_code == HTTPStatus.BAD_REQUEST
    assert "preview_url" in bad_preview.json()["fields"]
    assert script.status_code == HTTPStatus.BAD_REQUEST
    assert good.status_code == HTTPStatus.CREATED
    assert good.json()["preview_url"] == "https://x.example/a.mp3"


def test_duplicate_option_label_is_refused(manager_client, agency):
    poll = DraftPollFactory(agency=agency, option_labels=["Seoul"])

    response = post_json(manager_client, f"{API}/polls/{poll.slug}/options/", {"label": "Seoul"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "label" in response.json()["fields"]


def test_design_option_accepts_a_real_png(manager_client, agency):
    poll = draft_without_options(agency, kind="design")
    upload = SimpleUploadedFile("front.png", png_bytes(), content_type="image/png")

    response = manager_client.post(
        f"{API}/polls/{poll.slug}/options/", {"label": "Front print", "image": upload}
    )

    assert response.status_code == HTTPStatus.CREATED, response.json()
    assert response.json()["image"].endswith(".png")
    option = poll.options.get()
    assert option.image.name.startswith(f"designs/{poll.pk}/")
    assert option.image.storage.exists(option.image.name)


def test_design_option_takes_a_webp_even_when_named_jpg(manager_client, agency):
    poll = draft_without_options(agency, kind="design")
    upload = SimpleUploadedFile("photo.jpg", png_bytes(image_format="WEBP"), content_type="image/jpeg")

    response = manager_client.post(f"{API}/polls/{poll.slug}/options/", {"label": "Back", "image": upload})

    assert response.status_code == HTTPStatus.CREATED
    assert poll.options.get().image.name.endswith(".webp")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("fake.png", b"this is only text pretending to be an image"),
        ("anim.png", png_bytes(image_format="GIF")),
        ("huge.png", png_bytes(size=(4097, 2))),
        ("cut.png", png_bytes(size=(64, 64))[:60]),
    ],
)
def test_design_option_refuses_what_is_not_a_small_png_jpeg_or_webp(manager_client, agency, name, content):
    poll = draft_without_options(agency, kind="design")
    upload = SimpleUploadedFile(name, content, content_type="image/png")

    response = manager_client.post(f"{API}/polls/{poll.slug}/options/", {"label": "Front", "image": upload})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "invalid"
    assert "image" in response.json()["fields"]
    assert not poll.options.exists()


def test_design_image_over_5_mb_is_refused(settings, agency, manager):
    from polls.agency import options
    from polls.errors import PollDataInvalid

    poll = draft_without_options(agency, kind="design")
    upload = SimpleUploadedFile("big.png", png_bytes() + b"\0" * (5 * 1024 * 1024), content_type="image/png")

    with pytest.raises(PollDataInvalid) as refusal:
        options.option_add(poll=poll, actor=manager, data={"label": "Big"}, image=upload)

    assert "5 MB" in refusal.value.fields["image"][0]


def test_design_option_needs_an_image(manager_client, agency):
    poll = draft_without_options(agency, kind="design")

    response = manager_client.post(f"{API}/polls/{poll.slug}/options/", {"label": "Front"})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "image" in response.json()["fields"]


def test_option_update_and_remove_while_draft(manager_client, agency):
    poll = DraftPollFactory(agency=agency, option_labels=["Seoul", "Tokyo", "Madrid"])
    seoul, tokyo = poll.options.all()[:2]

    renamed = patch_json(manager_client, f"{API}/polls/{poll.slug}/options/{seoul.pk}/", {"label": "Incheon"})
    removed = manager_client.delete(f"{API}/polls/{poll.slug}/options/{tokyo.pk}/")

    assert renamed.status_code == HTTPStatus.OK
    assert renamed.json()["label"] == "Incheon"
    assert removed.status_code == HTTPStatus.NO_CONTENT
    assert list(poll.options.values_list("label", flat=True)) == ["Incheon", "Madrid"]


# ------------------------------------------------------------------ scheduling and the freeze


def test_schedule_without_mfa_is_refused(manager_client, agency):
    poll = DraftPollFactory(agency=agency)

    response = post_json(manager_client, f"{API}/polls/{poll.slug}/schedule/")

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "mfa_required"
    poll.refresh_from_db()
    assert poll.state == PollState.DRAFT


def test_recovery_codes_alone_are_not_mfa(manager_client, agency, manager):
    from allauth.mfa.models import Authenticator

    Authenticator.objects.create(user=manager, type=Authenticator.Type.RECOVERY_CODES, data={"seed": "x"})
    poll = DraftPollFactory(agency=agency)

    response = post_json(manager_client, f"{API}/polls/{poll.slug}/schedule/")

    assert response.json()["code"] == "mfa_required"


def test_schedule_with_mfa_schedules_the_poll(mfa_manager_client, agency):
    poll = DraftPollFactory(agency=agency)

    response = post_json(mfa_manager_client, f"{API}/polls/{poll.slug}/schedule/")

    assert response.status_code == HTTPStatus.OK, response.json()
    assert response.json()["state"] == "scheduled"
    assert response.json()["status"] == "scheduled"
    again = post_json(mfa_manager_client, f"{API}/polls/{poll.slug}/schedule/")
    assert again.status_code == HTTPStatus.CONFLICT
    assert again.json()["code"] == "invalid_transition"


def test_analyst_with_mfa_cannot_schedule(client, agency, analyst):
    mfa_enable(analyst)
    client.force_login(analyst)
    poll = DraftPollFactory(agency=agency)

    response = post_json(client, f"{API}/polls/{poll.slug}/schedule/")

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize(
    ("poll_kwargs", "field"),
    [
        ({"option_labels": ["Only one"]}, "options"),
        ({"method": "multiple", "min_choices": 1, "max_choices": 4}, "max_choices"),
        ({"kind": "city"}, "options"),  # the options have no coordinates
        (
            {
                "opens_at": timezone.now() - timedelta(days=9),
                "closes_at": timezone.now() - timedelta(days=1),
            },
            "closes_at",
        ),
    ],
)
def test_schedule_refuses_a_poll_that_is_not_ready(mfa_manager_client, agency, poll_kwargs, field):
    poll = DraftPollFactory(agency=agency, **poll_kwargs)

    response = post_json(mfa_manager_client, f"{API}/polls/{poll.slug}/schedule/")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    poll.refresh_from_db()
    assert poll.state == PollState.DRAFT


def test_options_and_rules_are_frozen_once_scheduled(mfa_manager_client, agency):
    poll = DraftPollFactory(agency=agency, method="multiple", min_choices=1, max_choices=2)
    assert post_json(mfa_manager_client, f"{API}/polls/{poll.slug}/schedule/").status_code == HTTPStatus.OK
    option = poll.options.first()
    options_before = list(poll.options.values_list("id", "label"))
    poll.refresh_from_db()
    rules_before = {name: getattr(poll, name) for name in ("kind", "max_choices", "closes_at", "timezone")}
    audit_before = AuditLogEntry.objects.count()

    answers = [
        post_json(mfa_manager_client, f"{API}/polls/{poll.slug}/options/", {"label": "Busan"}),
        patch_json(mfa_manager_client, f"{API}/polls/{poll.slug}/options/{option.pk}/", {"label": "Renamed"}),
        mfa_manager_client.delete(f"{API}/polls/{poll.slug}/options/{option.pk}/"),
        patch_json(mfa_manager_client, f"{API}/polls/{poll.slug}/", {"max_choices": 3}),
        patch_json(mfa_manager_client, f"{API}/polls/{poll.slug}/", {"kind": "single"}),
        patch_json(
            mfa_manager_client,
            f"{API}/polls/{poll.slug}/",
            {"closes_at": (timezone.now() + timedelta(days=30)).isoformat()},
        ),
        patch_json(mfa_manager_client, f"{API}/polls/{poll.slug}/", {"timezone": "Asia/Seoul"}),
    ]

    assert [answer.status_code for answer in answers] == [HTTPStatus.CONFLICT] * len(answers)
    assert {answer.json()["code"] for answer in answers} == {"poll_frozen"}
    poll.refresh_from_db()
    assert list(poll.options.values_list("id", "label")) == options_before
    assert {name: getattr(poll, name) for name in rules_before} == rules_before
    assert AuditLogEntry.objects.count() == audit_before


def test_title_can_still_be_corrected_after_scheduling(mfa_manager_client, agency):
    poll = DraftPollFactory(agency=agency, title="Nxet single")
    post_json(mfa_manager_client, f"{API}/polls/{poll.slug}/schedule/")

    response = patch_json(
        mfa_manager_client, f"{API}/polls/{poll.slug}/", {"title": "Next single", "kind": poll.kind}
    )

    assert response.status_code == HTTPStatus.OK
    assert response.json()["title"] == "Next single"


# ------------------------------------------------------------------ close and cancel


def test_close_early_makes_an_open_poll_closed(mfa_manager_client, agency):
    poll = PollFactory(agency=agency)  # open since an hour ago
    assert poll.status == PollStatus.OPEN

    response = post_json(mfa_manager_client, f"{API}/polls/{poll.slug}/close/")

    assert response.status_code == HTTPStatus.OK
    assert response.json()["status"] == "closed"
    poll.refresh_from_db()
    assert poll.status == PollStatus.CLOSED
    assert poll.closed_early_at is not None
    again = post_json(mfa_manager_client, f"{API}/polls/{poll.slug}/close/")
    assert again.status_code == HTTPStatus.CONFLICT
    assert again.json()["code"] == "invalid_transition"


@pytest.mark.parametrize("state", [PollState.DRAFT, PollState.SCHEDULED])
def test_close_is_only_for_open_polls(mfa_manager_client, agency, state):
    poll = DraftPollFactory(agency=agency, state=state)  # opens tomorrow

    response = post_json(mfa_manager_client, f"{API}/polls/{poll.slug}/close/")

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json()["code"] == "invalid_transition"


def test_close_without_mfa_is_refused(manager_client, agency):
    poll = PollFactory(agency=agency)

    response = post_json(manager_client, f"{API}/polls/{poll.slug}/close/")

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "mfa_required"
    poll.refresh_from_db()
    assert poll.closed_early_at is None


@pytest.mark.parametrize("factory", [DraftPollFactory, PollFactory])
def test_cancel_a_poll_before_it_is_published(mfa_manager_client, agency, factory):
    poll = factory(agency=agency)

    response = post_json(mfa_manager_client, f"{API}/polls/{poll.slug}/cancel/")

    assert response.status_code == HTTPStatus.OK
    assert response.json()["status"] == "cancelled"
    poll.refresh_from_db()
    assert poll.state == PollState.CANCELLED
    assert poll.cancelled_at is not None
    again = post_json(mfa_manager_client, f"{API}/polls/{poll.slug}/cancel/")
    assert again.json()["code"] == "invalid_transition"


def test_a_published_poll_cannot_be_cancelled(mfa_manager_client, agency):
    poll = PollFactory(agency=agency, state=PollState.PUBLISHED, published_at=timezone.now())

    response = post_json(mfa_manager_client, f"{API}/polls/{poll.slug}/cancel/")

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json()["code"] == "invalid_transition"


# ------------------------------------------------------------------ audit and turnout


def test_every_write_is_in_the_audit_log_with_before_after_and_ip(mfa_manager_client, agency, manager):
    created = post_json(mfa_manager_client, f"{API}/polls/", poll_payload(agency, kind="other", title="Old"))
    slug = created.json()["slug"]
    patch_json(mfa_manager_client, f"{API}/polls/{slug}/", {"title": "New"})
    post_json(mfa_manager_client, f"{API}/polls/{slug}/options/", {"label": "A"})
    post_json(mfa_manager_client, f"{API}/polls/{slug}/options/", {"label": "B"})
    post_json(mfa_manager_client, f"{API}/polls/{slug}/schedule/")

    entries = list(AuditLogEntry.objects.filter(agency=agency).order_by("created_at", "id"))

    assert [entry.action for entry in entries] == [
        "poll.create",
        "poll.update",
        "option.add",
        "option.add",
        "poll.schedule",
    ]
    assert all(entry.actor == manager and entry.ip_address == "127.0.0.1" for entry in entries)
    assert entries[0].after["title"] == "Old"
    assert entries[1].before == {"title": "Old"}
    assert entries[1].after == {"title": "New"}
    assert entries[2].after["label"] == "A"
    assert entries[4].before["state"] == "draft"
    assert entries[4].after["state"] == "scheduled"

    log = mfa_manager_client.get(f"{API}/agencies/{agency.slug}/audit/")
    assert log.status_code == HTTPStatus.OK
    assert log.json()["count"] == 5
    assert log.json()["results"][0]["action"] == "poll.schedule"
    assert log.json()["results"][0]["actor"] == manager.email


def test_analysts_read_the_audit_log_and_polls(client, agency, analyst):
    poll = DraftPollFactory(agency=agency)
    client.force_login(analyst)

    assert client.get(f"{API}/agencies/{agency.slug}/audit/").status_code == HTTPStatus.OK
    assert client.get(f"{API}/polls/{poll.slug}/").status_code == HTTPStatus.OK
    assert client.get(f"{API}/polls/{poll.slug}/stats/").status_code == HTTPStatus.OK
    edit = patch_json(client, f"{API}/polls/{poll.slug}/", {"title": "Nope"})
    assert edit.status_code == HTTPStatus.FORBIDDEN
    assert edit.json()["code"] == "permission_denied"


def test_stats_give_turnout_and_no_counts_per_option(manager_client, agency):
    poll = PollFactory(agency=agency)
    fan, other_fan = UserFactory(verified=True), UserFactory(verified=True)
    today = timezone.now().date()
    for number, voter in enumerate([fan, fan, other_fan]):
        Ballot.objects.create(
            poll=poll, voter=voter, period=today, slot=number, day=today, receipt_hash=f"{number:064x}"
        )

    response = manager_client.get(f"{API}/polls/{poll.slug}/stats/")

    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"poll": poll.slug, "status": "open", "ballots": 3, "voters": 2}


def test_app_clients_use_the_agency_api_with_a_session_token(client, agency, manager):
    login = client.post(
        "/_allauth/app/v1/auth/login",
        {"email": manager.email, "password": TEST_PASSWORD},
        content_type="application/json",
    )
    token = login.json()["meta"]["session_token"]
    app = Client()

    response = app.post(
        f"{API}/polls/",
        poll_payload(agency),
        content_type="application/json",
        headers={"X-Session-Token": token},
    )

    assert response.status_code == HTTPStatus.CREATED
    assert Poll.objects.get().created_by == manager


def test_writes_are_rate_limited_per_account(manager_client, agency, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "agency_write": [("account", "3/h")]}
    answers = [post_json(manager_client, f"{API}/polls/", {"agency": agency.slug}) for _ in range(4)]

    assert {answer.status_code for answer in answers[:3]} == {HTTPStatus.BAD_REQUEST}
    assert answers[3].status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert answers[3].json()["code"] == "rate_limited"
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 3600


@pytest.mark.parametrize(
    "path",
    [
        "{api}/agencies/{agency}/audit/",
        "/agency/{agency}/audit/",
        "{api}/polls/{poll}/invalidations/",
        "/agency/{agency}/polls/{poll}/",
    ],
    ids=["audit api", "audit page", "invalidation list", "poll page with turnout"],
)
def test_costly_agency_reads_are_rate_limited_per_account(mfa_manager_client, agency, settings, path):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "agency_read": [("account", "2/h")]}
    poll = PollFactory(agency=agency)
    url = path.format(api=API, agency=agency.slug, poll=poll.slug)

    answers = [mfa_manager_client.get(url) for _ in range(3)]

    assert [answer.status_code for answer in answers[:2]] == [HTTPStatus.OK] * 2
    assert answers[2].status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 3600


def test_schema_stays_valid_with_the_agency_api(client):
    response = client.get("/api/schema/", {"format": "json"})

    assert response.status_code == HTTPStatus.OK
    assert "/api/v1/agency/polls/{slug}/schedule/" in response.json()["paths"]


# ------------------------------------------------------------------ odd option input and uploaded images


@pytest.mark.parametrize(
    "payload",
    [
        {"label": "X", "latitude": "NaN", "longitude": 1, "country": "KR"},
        {"label": "X", "latitude": "1e400", "longitude": 1, "country": "KR"},
        {"label": "X", "latitude": 1, "longitude": 1, "country": "KR", "population": 10**30},
        {"label": "X", "latitude": 1, "longitude": 1, "country": "KOR"},
        {"label": "X", "latitude": [1], "longitude": {"a": 1}, "country": 7},
        {"label": "X" * 500},
        {"label": ""},
        {"label": None},
        {"label": "X", "position": -1},
        {"label": "X", "image": "not a file"},
    ],
)
def test_odd_option_input_is_400_not_500(manager_client, agency, payload):
    poll = draft_without_options(agency, kind="city")

    response = post_json(manager_client, f"{API}/polls/{poll.slug}/options/", payload)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "invalid"
    assert not poll.options.exists()


def test_uploaded_design_images_lose_their_exif_metadata(mfa_manager_client, agency):
    from PIL import Image

    poll = DraftPollFactory(agency=agency, kind="design", option_labels=["Tee"])
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # camera make
    exif[0x8825] = {2: (37.0, 33.0, 59.0)}  # GPS latitude
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "purple").save(buffer, format="JPEG", exif=exif)
    upload = SimpleUploadedFile("holiday.jpg", buffer.getvalue(), content_type="image/jpeg")

    response = mfa_manager_client.post(
        f"{API}/polls/{poll.slug}/options/", {"label": "Hoodie", "image": upload}
    )

    assert response.status_code == HTTPStatus.CREATED, response.content
    stored = poll.options.get(label="Hoodie").image
    with Image.open(stored.open("rb")) as picture:
        assert dict(picture.getexif()) == {}
        assert picture.size == (64, 64)
    assert b"PhoneMaker" not in stored.open("rb").read()
