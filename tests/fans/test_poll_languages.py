"""Poll content in several languages: the agency writes translations (editor and API),
fans read their language or, clearly marked, the poll's own; caches never hand one
language's text to another reader; results and recounts do not depend on language."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from polls.agency.publishing import poll_publish
from polls.content_languages import CONTENT_LANGUAGES
from polls.models import Option, Poll, ResultsVisibility
from polls.recount import recount
from polls.services import ballot_cast
from tests.factories import DraftPollFactory, PollFactory, UserFactory, mfa_enable
from tests.helpers import AGENCY_API as API
from tests.helpers import close, draft_without_options, patch_json, post_json, session_token, session_user

pytestmark = [pytest.mark.django_db]

KOREAN_TITLE = "다음 투어 도시"
KOREAN_SEOUL = "서울"


@pytest.fixture
def translated_poll(agency) -> Poll:
    poll = PollFactory(
        agency=agency,
        title="Next tour city",
        description="Pick the city of the encore concert.",
        language="en",
        translations={"ko": {"title": KOREAN_TITLE, "description": "앙코르 공연 도시를 고르세요."}},
        option_labels=["Seoul", "Tokyo"],
        results_visibility=ResultsVisibility.LIVE,
    )
    Option.objects.filter(poll=poll, label="Seoul").update(translations={"ko": {"label": KOREAN_SEOUL}})
    return poll


def poll_payload(agency, **overrides) -> dict:
    now = timezone.now()
    return {
        "agency": agency.slug,
        "title": "Next tour city",
        "kind": "other",
        "opens_at": (now + timedelta(days=1)).isoformat(),
        "closes_at": (now + timedelta(days=8)).isoformat(),
        **overrides,
    }


# ------------------------------------------------------------------ the agency writes


def test_agency_api_round_trips_poll_and_option_translations(manager_client, agency):
    created = post_json(
        manager_client,
        f"{API}/polls/",
        poll_payload(agency, language="en", translations={"ko": {"title": KOREAN_TITLE, "description": ""}}),
    )
    assert created.status_code == HTTPStatus.CREATED, created.json()
    slug = created.json()["slug"]
    option = post_json(
        manager_client,
        f"{API}/polls/{slug}/options/",
        {"label": "Seoul", "translations": {"ko": {"label": KOREAN_SEOUL}, "ja": {"label": "ソウル"}}},
    )
    assert option.status_code == HTTPStatus.CREATED, option.json()
    edited = patch_json(
        manager_client,
        f"{API}/polls/{slug}/",
        {"translations": {"ko": {"title": KOREAN_TITLE}, "es": {"title": "Próxima ciudad"}}},
    )

    poll = manager_client.get(f"{API}/polls/{slug}/").json()
    assert edited.status_code == HTTPStatus.OK, edited.json()
    assert poll["language"] == "en"
    # Blank texts are dropped: "not translated", not "translated as nothing".
    assert poll["translations"] == {"es": {"title": "Próxima ciudad"}, "ko": {"title": KOREAN_TITLE}}
    assert poll["options"][0]["translations"] == {"ja": {"label": "ソウル"}, "ko": {"label": KOREAN_SEOUL}}
    assert Poll.objects.get(slug=slug).translations["ko"] == {"title": KOREAN_TITLE}


@pytest.mark.parametrize(
    "payload",
    [
        {"translations": {"xx": {"title": "?"}}},
        {"translations": {"ko": {"title": "다음"}, "klingon": {"title": "?"}}},
        {"language": "xx"},
    ],
)
def test_unknown_languages_are_refused_with_unknown_language(manager_client, agency, payload):
    response = post_json(manager_client, f"{API}/polls/", poll_payload(agency, **payload))

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "unknown_language"
    assert response.json()["languages"] in (["xx"], ["klingon"])
    assert not Poll.objects.exists()


def test_unknown_option_translation_language_is_refused(manager_client, agency):
    poll = draft_without_options(agency)

    response = post_json(
        manager_client,
        f"{API}/polls/{poll.slug}/options/",
        {"label": "Seoul", "translations": {"tlh": {"label": "?"}}},
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "unknown_language"
    assert not poll.options.exists()


def test_a_translation_in_the_polls_own_language_is_refused(manager_client, agency):
    response = post_json(
        manager_client,
        f"{API}/polls/",
        poll_payload(agency, language="ko", translations={"ko": {"title": "x"}}),
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["code"] == "invalid"
    assert "translations" in response.json()["fields"]


def test_the_database_refuses_translations_in_unknown_languages(translated_poll):
    for update in (
        lambda: Poll.objects.filter(pk=translated_poll.pk).update(translations={"xx": {"title": "?"}}),
        lambda: Poll.objects.filter(pk=translated_poll.pk).update(translations=["ko"]),
        lambda: Poll.objects.filter(pk=translated_poll.pk).update(language="xx"),
        lambda: Option.objects.filter(poll=translated_poll).update(translations={"xx": {"label": "?"}}),
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            update()


def test_every_offered_language_may_hold_translations():
    # Adding an interface language without a migration of the constraint fails here.
    assert {code for code, _name in settings.LANGUAGES} <= set(CONTENT_LANGUAGES)


def test_editor_pages_round_trip_poll_and_option_translations(manager_client, agency):
    poll = DraftPollFactory(agency=agency, title="Draft", option_labels=["Seoul"])
    option = poll.options.get()
    base = f"/agency/{agency.slug}/polls/{poll.slug}"
    fields = {
        "title": "Next tour city",
        "slug": poll.slug,
        "description": "",
        "language": "en",
        "tr_ko_title": KOREAN_TITLE,
        "tr_ko_description": "  ",
        "tr_ja_title": "",
        "kind": "other",
        "method": "single",
        "min_choices": 1,
        "max_choices": 1,
        "votes_per_period": 1,
        "period": "once",
        "timezone": "UTC",
        "opens_at": "2031-05-01T20:00",
        "closes_at": "2031-05-08T20:00",
        "results_visibility": "live",
        "least_verification": "email",
        "least_account_age_days": 0,
    }

    edited = manager_client.post(f"{base}/edit/", fields)
    added = manager_client.post(f"{base}/options/", {"label": "Tokyo", "tr_ko_label": "도쿄"})
    corrected = manager_client.post(
        f"{base}/options/{option.pk}/translations/", {"tr_ko_label": KOREAN_SEOUL}
    )
    page = manager_client.get(f"{base}/")

    assert edited.status_code == added.status_code == corrected.status_code == HTTPStatus.FOUND
    poll.refresh_from_db()
    assert poll.translations == {"ko": {"title": KOREAN_TITLE}}
    assert poll.options.get(label="Tokyo").translations == {"ko": {"label": "도쿄"}}
    assert poll.options.get(label="Seoul").translations == {"ko": {"label": KOREAN_SEOUL}}
    html = page.content.decode()
    # One fieldset per language, its inputs marked with their language, values kept.
    assert 'name="tr_ko_title"' in html and f'value="{KOREAN_TITLE}"' in html
    assert 'lang="ko"' in html
    # The option form has no fieldset for the poll's own language.
    assert 'name="tr_en_label"' not in html


def test_editor_page_shows_an_unknown_language_refusal_instead_of_failing(manager_client, agency):
    poll = DraftPollFactory(agency=agency)
    response = manager_client.post(
        f"/agency/{agency.slug}/polls/{poll.slug}/edit/",
        {
            "title": "T",
            "language": "xx",
            "kind": "other",
            "opens_at": "2031-05-01T20:00",
            "closes_at": "2031-05-08T20:00",
        },
    )

    assert response.status_code == HTTPStatus.BAD_REQUEST
    poll.refresh_from_db()
    assert poll.language == "en"


# ------------------------------------------------------------------ fans read


def test_fan_asking_for_korean_sees_the_korean_title_and_labels(client, translated_poll):
    page = client.get(f"/polls/{translated_poll.slug}/", HTTP_ACCEPT_LANGUAGE="ko")

    html = page.content.decode()
    assert page.status_code == HTTPStatus.OK
    assert f"<h1>{KOREAN_TITLE}</h1>" in html
    assert KOREAN_SEOUL in html
    assert "language-note" not in html
    # Tokyo has no Korean label: shown in English, marked as English.
    assert '<span lang="en">Tokyo</span>' in html


def test_fan_in_an_untranslated_language_gets_the_polls_language_marked_with_a_note(client, translated_poll):
    page = client.get(f"/polls/{translated_poll.slug}/", HTTP_ACCEPT_LANGUAGE="ja")

    html = page.content.decode()
    assert '<h1><span lang="en">Next tour city</span></h1>' in html
    assert 'class="muted language-note"' in html
    assert KOREAN_TITLE not in html


def test_english_reader_of_an_english_poll_gets_no_note_and_no_lang_marks(client, translated_poll):
    html = client.get(f"/polls/{translated_poll.slug}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "<h1>Next tour city</h1>" in html
    assert "language-note" not in html
    assert '<span lang="en">' not in html


def test_the_accounts_language_wins_over_accept_language(client, translated_poll):
    fan = UserFactory(verified=True, preferred_language="ko")
    client.force_login(fan)

    html = client.get(f"/polls/{translated_poll.slug}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert KOREAN_TITLE in html


def test_home_cards_show_the_readers_title(client, translated_poll):
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()

    assert KOREAN_TITLE in html


def test_fan_api_says_which_language_each_text_is_in(client, translated_poll):
    korean = client.get(f"/api/v1/polls/{translated_poll.slug}/", HTTP_ACCEPT_LANGUAGE="ko").json()
    japanese = client.get(f"/api/v1/polls/{translated_poll.slug}/", HTTP_ACCEPT_LANGUAGE="ja").json()

    assert (korean["title"], korean["language"], korean["poll_language"]) == (KOREAN_TITLE, "ko", "en")
    assert korean["description_language"] == "ko"
    labels = {option["label"]: option["language"] for option in korean["options"]}
    assert labels == {KOREAN_SEOUL: "ko", "Tokyo": "en"}
    assert (japanese["title"], japanese["language"]) == ("Next tour city", "en")
    assert {option["language"] for option in japanese["options"]} == {"en"}


def test_fan_api_list_follows_the_accounts_language_for_token_sign_ins(client, translated_poll):
    fan = UserFactory(verified=True, preferred_language="ko")
    token = session_token(fan)

    listed = client.get("/api/v1/polls/", HTTP_X_SESSION_TOKEN=token, HTTP_ACCEPT_LANGUAGE="en").json()

    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [row["title"] for row in rows] == [KOREAN_TITLE]


def test_answers_in_the_readers_language_vary_on_accept_language(client, translated_poll):
    for path in (f"/polls/{translated_poll.slug}/", f"/api/v1/polls/{translated_poll.slug}/"):
        response = client.get(path, HTTP_ACCEPT_LANGUAGE="ko")
        assert "Accept-Language" in response["Vary"]
        assert response["Content-Language"] == "ko"


# ------------------------------------------------------------------ caches


def test_cached_poll_reads_do_not_hand_one_languages_text_to_another(settings, translated_poll):
    settings.POLL_CACHE_SECONDS = 60  # the per-worker poll cache on
    korean, english = Client(HTTP_ACCEPT_LANGUAGE="ko"), Client(HTTP_ACCEPT_LANGUAGE="en")
    path = f"/api/v1/polls/{translated_poll.slug}/"

    first = korean.get(path).json()
    second = english.get(path).json()
    page_ko = korean.get(f"/polls/{translated_poll.slug}/results/").content.decode()
    page_en = english.get(f"/polls/{translated_poll.slug}/results/").content.decode()

    assert first["title"] == KOREAN_TITLE and second["title"] == "Next tour city"
    assert KOREAN_SEOUL in page_ko
    assert KOREAN_SEOUL not in page_en and "Seoul" in page_en


def test_results_bytes_are_the_same_for_every_language_and_name_the_polls_language(settings, translated_poll):
    settings.POLL_CACHE_SECONDS = 60
    ballot_cast(
        poll=translated_poll, voter=UserFactory(verified=True), choices=[translated_poll.options.first().pk]
    )
    path = f"/api/v1/polls/{translated_poll.slug}/results/"

    korean = Client().get(path, HTTP_ACCEPT_LANGUAGE="ko")
    english = Client().get(path, HTTP_ACCEPT_LANGUAGE="en")
    revalidated = Client().get(path, HTTP_ACCEPT_LANGUAGE="en", HTTP_IF_NONE_MATCH=korean["ETag"])

    assert korean.status_code == english.status_code == HTTPStatus.OK
    assert korean.content == english.content
    assert korean["ETag"] == english["ETag"]
    assert revalidated.status_code == HTTPStatus.NOT_MODIFIED
    # Labels in the poll's own language, said so; translated labels come by option id
    # from the poll read.
    assert korean["Content-Language"] == "en"
    assert KOREAN_SEOUL not in korean.content.decode()


# ------------------------------------------------------------------ recounts


def test_a_recount_gives_identical_output_whatever_the_request_language(agency, manager, translated_poll):
    mfa_enable(manager)
    seoul, tokyo = translated_poll.options.order_by("position")
    for choice in (seoul, seoul, tokyo):
        ballot_cast(poll=translated_poll, voter=UserFactory(verified=True), choices=[choice.pk])
    poll_publish(poll=close(translated_poll), actor=session_user(manager, mfa=True))

    outputs = []
    for language in ("ko", "en", "ja"):
        reader = Client(HTTP_ACCEPT_LANGUAGE=language)
        board = reader.get(f"/api/v1/polls/{translated_poll.slug}/bulletin/").content
        results = reader.get(f"/api/v1/polls/{translated_poll.slug}/results/").json()
        key = reader.get("/.well-known/encore-signing-key.pem").content
        lines: list[str] = []
        assert recount(board, results=results, public_key_pem=key, out=lines.append), lines
        outputs.append((board, results, lines))

    assert outputs[0] == outputs[1] == outputs[2]
    board_text = outputs[0][0].decode()
    assert KOREAN_SEOUL not in board_text and KOREAN_TITLE not in board_text
    assert {row["label"]: row["votes"] for row in outputs[0][1]["options"]} == {"Seoul": 2, "Tokyo": 1}


def test_a_scheduled_polls_translations_may_still_be_corrected(manager_client, translated_poll):
    response = patch_json(
        manager_client,
        f"{API}/polls/{translated_poll.slug}/",
        {"translations": {"ko": {"title": "다음 투어 도시 (수정)"}}},
    )

    assert response.status_code == HTTPStatus.OK, response.json()
    translated_poll.refresh_from_db()
    assert translated_poll.translations == {"ko": {"title": "다음 투어 도시 (수정)"}}


def test_the_vote_confirmation_names_the_choice_in_the_readers_language(client, translated_poll):
    fan = UserFactory(verified=True, preferred_language="ko")
    client.force_login(fan)
    seoul = translated_poll.options.get(label="Seoul")
    page = client.get(f"/polls/{translated_poll.slug}/")
    form = {
        "choice": seoul.pk,
        "idempotency_key": page.context["form"]["idempotency_key"].value(),
        "shown_at": page.context["form"]["shown_at"].value(),
    }

    voted = client.post(f"/polls/{translated_poll.slug}/vote/", form, follow=True)

    assert voted.status_code == HTTPStatus.OK
    assert f"<strong>{KOREAN_SEOUL}</strong>" in voted.content.decode()
