"""Published results anyone can recount, checkpoints, and receipts every voter can check."""

import json
import subprocess
import sys
from http import HTTPStatus
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.test import Client

from polls.agency.publishing import poll_publish
from polls.agency.review import ballots_set_status
from polls.bulletin import board_csv
from polls.checkpoints import checkpoint_create
from polls.models import Ballot, Poll, ResultSnapshot, VotingMethod
from polls.recount import recount
from polls.services import ballot_cast
from polls.tally_math import instant_runoff
from tests.factories import PollFactory, UserFactory, mfa_enable
from tests.helpers import ROOT, close, session_user

pytestmark = pytest.mark.django_db


def cast_all(poll: Poll, picks: list[list[str]]) -> list[str]:
    """Cast one ballot per entry (option labels, in order) from fresh verified fans."""
    ids = dict(poll.options.values_list("label", "pk"))
    return [
        ballot_cast(
            poll=poll, voter=UserFactory(verified=True), choices=[ids[label] for label in labels]
        ).body["receipt"]
        for labels in picks
    ]


@pytest.fixture
def publisher(agency, manager):
    mfa_enable(manager)
    return session_user(manager, mfa=True)


def downloads(client, poll):
    board = client.get(f"/api/v1/polls/{poll.slug}/bulletin/")
    assert board.status_code == HTTPStatus.OK
    results = client.get(f"/api/v1/polls/{poll.slug}/results/").json()
    key = client.get("/.well-known/encore-signing-key.pem").content
    checkpoints = client.get(f"/api/v1/polls/{poll.slug}/checkpoints/").json()["checkpoints"]
    return board.content, results, key, checkpoints


def verified(board, results, key, checkpoints) -> tuple[bool, str]:
    lines: list[str] = []
    ok = recount(board, results=results, public_key_pem=key, saved_checkpoints=checkpoints, out=lines.append)
    return ok, "\n".join(lines)


SINGLE = [["Seoul"]] * 5 + [["Tokyo"]] * 3 + [["Madrid"]] * 1
MULTIPLE = [["Seoul", "Tokyo"]] * 3 + [["Tokyo", "Madrid"]] * 2 + [["Madrid"]] * 1
# Seoul leads first preferences, but Madrid's votes go to Tokyo, which wins the runoff.
RANKED = [["Seoul"]] * 4 + [["Tokyo", "Seoul"]] * 3 + [["Madrid", "Tokyo"]] * 2 + [["Madrid"]] * 1


@pytest.mark.parametrize(
    ("method", "limits", "picks", "expected", "winner"),
    [
        ("single", (1, 1), SINGLE, {"Seoul": 5, "Tokyo": 3, "Madrid": 1}, None),
        ("multiple", (1, 2), MULTIPLE, {"Seoul": 3, "Tokyo": 5, "Madrid": 3}, None),
        ("ranked", (1, 3), RANKED, {"Seoul": 4, "Tokyo": 3, "Madrid": 3}, "Tokyo"),
    ],
)
def test_recount_of_the_published_board_equals_the_published_totals(
    client, agency, publisher, method, limits, picks, expected, winner
):
    poll = PollFactory(agency=agency, method=method, min_choices=limits[0], max_choices=limits[1])
    cast_all(poll, picks[: len(picks) // 2])
    checkpoint_create(poll=poll)  # one checkpoint while open
    cast_all(poll, picks[len(picks) // 2 :])
    poll_publish(poll=close(poll), actor=publisher)

    board, results, key, checkpoints = downloads(client, poll)
    ok, report = verified(board, results, key, checkpoints)

    assert ok, report
    assert "Verdict: VERIFIED" in report
    assert {row["label"]: row["votes"] for row in results["options"]} == expected
    assert results["ballots"] == len(picks)
    assert results["status"] == "final"
    assert len(checkpoints) == 2
    if winner:
        labels = {row["id"]: row["label"] for row in results["options"]}
        assert labels[results["winner"]] == winner
        assert [len(r["tallies"]) for r in results["rounds"]] == [3, 2]


def test_changing_one_ballot_in_the_export_fails_the_recount_on_the_digest(client, agency, publisher):
    poll = PollFactory(agency=agency)
    cast_all(poll, SINGLE)
    poll_publish(poll=close(poll), actor=publisher)
    board, results, key, checkpoints = downloads(client, poll)
    document = json.loads(board)
    current = document["ballots"][0]["choices"]
    other = next(option["id"] for option in document["options"] if [option["id"]] != current)
    document["ballots"][0]["choices"] = [other]
    tampered = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    ok, report = verified(tampered, results, key, checkpoints)

    assert not ok
    assert "[FAIL] digest" in report
    assert "[FAIL] checkpoints" in report


def test_changing_a_published_total_fails_on_the_signature(client, agency, publisher):
    poll = PollFactory(agency=agency)
    cast_all(poll, SINGLE)
    poll_publish(poll=close(poll), actor=publisher)
    board, results, key, checkpoints = downloads(client, poll)
    results["options"][0]["votes"] += 1

    ok, report = verified(board, results, key, checkpoints)

    assert not ok
    assert "[FAIL] signature" in report
    assert "[FAIL] totals" in report


def test_a_ballot_slipped_in_behind_an_earlier_checkpoint_is_detected(client, agency, publisher):
    poll = PollFactory(agency=agency)
    cast_all(poll, SINGLE[:4])
    saved_while_open = [
        {"seq": c.seq, "count": c.count, "digest": c.digest} for c in [checkpoint_create(poll=poll)]
    ]
    cast_all(poll, SINGLE[4:])
    poll_publish(poll=close(poll), actor=publisher)
    board, *_ = downloads(client, poll)
    document = json.loads(board)
    forged = dict(document["ballots"][0], receipt_hash="f" * 64, voter_tag="e" * 32, checkpoint=1)
    document["ballots"] = sorted([*document["ballots"], forged], key=lambda b: b["receipt_hash"])
    tampered = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    ok, report = verified(tampered, None, None, saved_while_open)

    assert not ok
    assert "[FAIL] checkpoints" in report
    assert "checkpoint 1" in report


def test_rewriting_the_checkpoints_is_caught_by_checkpoints_saved_while_open(client, agency, publisher):
    poll = PollFactory(agency=agency)
    cast_all(poll, SINGLE[:4])
    first = checkpoint_create(poll=poll)
    saved_while_open = [{"seq": first.seq, "count": first.count, "digest": first.digest}]
    cast_all(poll, SINGLE[4:])
    poll_publish(poll=close(poll), actor=publisher)
    board, *_ = downloads(client, poll)
    document = json.loads(board)
    # A dishonest service drops a ballot and rebuilds the whole chain to match...
    from polls.tally_math import GENESIS_DIGEST, ballot_line, checkpoint_digest

    dropped = [b for b in document["ballots"] if b["checkpoint"] == 1][1:]
    rest = [b for b in document["ballots"] if b["checkpoint"] != 1]
    document["ballots"] = sorted(dropped + rest, key=lambda b: b["receipt_hash"])
    previous, count = GENESIS_DIGEST, 0
    for checkpoint in document["checkpoints"]:
        batch = [
            ballot_line(**{k: b[k] for k in ("receipt_hash", "voter_tag", "choices", "day")})
            for b in document["ballots"]
            if b["checkpoint"] == checkpoint["seq"]
        ]
        count += len(batch)
        previous = checkpoint_digest(previous, batch)
        checkpoint.update(count=count, digest=previous)
    rebuilt = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    ok, report = verified(rebuilt, None, None, saved_while_open)

    # ...which is self-consistent, but not with what the public saved while it was open.
    assert "[PASS] checkpoints" in report
    assert not ok
    assert "[FAIL] saved checkpoints" in report


def test_invalidated_ballots_stay_on_the_board_and_are_counted_by_reason(client, agency, publisher):
    poll = PollFactory(agency=agency)
    cast_all(poll, SINGLE)
    farm = Ballot.objects.filter(poll=poll).order_by("id")[:2]
    ballots_set_status(
        poll=poll,
        actor=publisher,
        ballot_ids=[b.pk for b in farm],
        status="invalidated",
        reason="bot_network",
    )
    poll_publish(poll=close(poll), actor=publisher)

    board, results, key, checkpoints = downloads(client, poll)
    ok, report = verified(board, results, key, checkpoints)

    assert ok, report
    assert results["ballots"] == len(SINGLE) - 2
    assert results["invalidated"] == {"bot_network": 2}
    statuses = [b["status"] for b in json.loads(board)["ballots"]]
    assert statuses.count("invalidated") == 2
    assert len(statuses) == len(SINGLE)
    page = client.get(f"/polls/{poll.slug}/results/").content.decode()
    assert "bot_network" in page


def test_recount_command_runs_without_django_and_gives_a_verdict(client, agency, publisher, tmp_path):
    poll = PollFactory(agency=agency)
    cast_all(poll, SINGLE)
    poll_publish(poll=close(poll), actor=publisher)
    board, results, key, checkpoints = downloads(client, poll)
    (tmp_path / "board.json").write_bytes(board)
    (tmp_path / "results.json").write_text(json.dumps(results))
    (tmp_path / "key.pem").write_bytes(key)
    (tmp_path / "checkpoints.json").write_text(json.dumps({"checkpoints": checkpoints}))
    command = [
        sys.executable, "-m", "polls.recount", str(tmp_path / "board.json"), "--results", str(tmp_path / "results.json"),
        "--public-key", str(tmp_path / "key.pem"), "--checkpoints", str(tmp_path / "checkpoints.json"),
    ]  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}  # no DJANGO_SETTINGS_MODULE, no database

    good = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    (tmp_path / "board.json").write_bytes(board.replace(b'"counted"', b'"invalidated"', 1))
    bad = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)

    assert good.returncode == 0, good.stdout + good.stderr
    assert "Verdict: VERIFIED" in good.stdout
    assert bad.returncode == 1
    assert "NOT VERIFIED" in bad.stdout


def test_csv_export_lists_every_ballot_with_the_same_fields(client, agency, publisher):
    poll = PollFactory(agency=agency)
    cast_all(poll, SINGLE)
    poll_publish(poll=close(poll), actor=publisher)

    response = client.get(f"/api/v1/polls/{poll.slug}/bulletin/?format=csv")

    lines = response.content.decode().strip().splitlines()
    assert response["Content-Type"].startswith("text/csv")
    assert lines[0] == "receipt_hash,voter_tag,choices,day,status,reason,checkpoint"
    assert len(lines) == 1 + len(SINGLE)


def test_csv_download_serves_the_bytes_built_at_publishing_with_the_json_headers(client, agency, publisher):
    poll = PollFactory(agency=agency)
    cast_all(poll, SINGLE)
    snapshot = poll_publish(poll=close(poll), actor=publisher)
    url = f"/api/v1/polls/{poll.slug}/bulletin/"
    expected = board_csv(json.loads(snapshot.board_json)).encode()
    # A download never parses the board again: it would fail on this.
    ResultSnapshot.objects.filter(pk=snapshot.pk).update(board_json="not the board")

    as_csv = client.get(url, {"format": "csv"})
    as_json = client.get(url)

    assert as_csv.status_code == HTTPStatus.OK
    assert as_csv.content == expected
    assert as_json.content == b"not the board"
    assert as_csv["Content-Disposition"] == f'attachment; filename="{poll.slug}-bulletin.csv"'
    for header in ("Cache-Control", "X-Content-SHA256"):
        assert as_csv[header] == as_json[header]


def test_the_migration_builds_the_csv_of_boards_published_before_it(agency, publisher):
    migration = import_module("polls.migrations.0004_snapshot_board_csv")
    poll = PollFactory(agency=agency)
    cast_all(poll, SINGLE)
    snapshot = poll_publish(poll=close(poll), actor=publisher)
    ResultSnapshot.objects.filter(pk=snapshot.pk).update(board_csv="")

    migration.fill_board_csv(django_apps, None)

    assert ResultSnapshot.objects.get(pk=snapshot.pk).board_csv == snapshot.board_csv
    assert snapshot.board_csv.count("\n") == 1 + len(SINGLE)


def test_publishing_needs_a_closed_poll(agency, publisher):
    from polls.errors import PollChangeRefused

    poll = PollFactory(agency=agency)

    with pytest.raises(PollChangeRefused) as refusal:
        poll_publish(poll=poll, actor=publisher)

    assert refusal.value.code == "invalid_transition"


# ------------------------------------------------------------------ receipts


def check_on_the_page(client, code: str) -> str:
    return client.post("/receipts/", {"code": code}).content.decode()


def test_receipt_says_recorded_with_its_choices_until_published_then_counted(client, agency, publisher):
    poll = PollFactory(agency=agency, method=VotingMethod.RANKED, max_choices=2)
    [receipt] = cast_all(poll, [["Tokyo", "Seoul"]])
    ids = dict(poll.options.values_list("label", "pk"))

    data = client.get(f"/api/v1/receipts/{receipt}/").json()
    typed = client.get(f"/api/v1/receipts/{receipt.lower().replace('-', ' ')}/")
    page = check_on_the_page(client, receipt)
    poll_publish(poll=close(poll), actor=publisher)
    published = client.get(f"/api/v1/receipts/{receipt}/").json()

    assert (data["status"], data["reason"]) == ("recorded", "")
    assert data["poll"] == poll.slug
    assert data["choices"] == [ids["Tokyo"], ids["Seoul"]]
    assert typed.json() == data
    assert "Recorded" in page
    assert "1. Tokyo, 2. Seoul" in page
    assert (published["status"], published["reason"]) == ("counted", "")
    assert "Counted" in check_on_the_page(client, receipt)


def test_review_stays_hidden_from_receipts_and_my_votes_until_the_results_are_published(
    client, agency, publisher
):
    poll = PollFactory(agency=agency)
    fan = UserFactory(verified=True)
    receipt = ballot_cast(poll=poll, voter=fan, choices=[poll.options.first().pk]).body["receipt"]
    ballots_set_status(
        poll=poll, actor=publisher, ballot_ids=list(Ballot.objects.values_list("pk", flat=True)),
        status="invalidated", reason="duplicate_person",
    )  # fmt: skip
    client.force_login(fan)

    def seen() -> tuple[dict, str, str, dict]:
        return (
            client.get(f"/api/v1/receipts/{receipt}/").json(),
            check_on_the_page(client, receipt),
            client.get("/my/votes/").content.decode(),
            client.get(f"/api/v1/polls/{poll.slug}/").json()["your_ballots"][0],
        )

    api, page, my_votes, mine = seen()
    assert (api["status"], api["reason"]) == ("recorded", "")
    assert (mine["status"], mine["reason"]) == ("recorded", "")
    for text in (page, my_votes, str(api)):
        assert "duplicate_person" not in text
        assert "nvalidated" not in text

    poll_publish(poll=close(poll), actor=publisher)
    api, page, my_votes, mine = seen()
    assert (api["status"], api["reason"]) == ("invalidated", "duplicate_person")
    assert (mine["status"], mine["reason"]) == ("invalidated", "duplicate_person")
    assert "duplicate_person" in page
    assert "duplicate_person" in my_votes


def test_the_receipt_page_takes_the_code_by_post_with_csrf_and_ignores_it_in_a_url():
    poll = PollFactory(title="Where should the tour end?")
    [receipt] = cast_all(poll, [["Seoul"]])
    browser = Client(enforce_csrf_checks=True)

    in_url = browser.get("/receipts/", {"code": receipt}, follow=True)
    without_token = browser.post("/receipts/", {"code": receipt})
    token = in_url.cookies["csrftoken"].value
    with_token = browser.post("/receipts/", {"code": receipt, "csrfmiddlewaretoken": token})

    assert in_url.redirect_chain == [("/receipts/", HTTPStatus.FOUND)]
    assert 'method="post"' in in_url.content.decode()
    assert poll.title not in in_url.content.decode()
    assert receipt not in in_url.content.decode()
    assert without_token.status_code == HTTPStatus.FORBIDDEN
    assert with_token.status_code == HTTPStatus.OK
    assert poll.title in with_token.content.decode()


def test_receipt_answers_are_never_stored_by_caches(client):
    poll = PollFactory()
    [receipt] = cast_all(poll, [["Seoul"]])

    answers = [
        client.get(f"/api/v1/receipts/{receipt}/"),
        client.get("/api/v1/receipts/AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-A/"),
        client.get("/receipts/"),
        client.post("/receipts/", {"code": receipt}),
        client.post("/receipts/", {"code": "nope"}),
    ]

    assert [answer.status_code for answer in answers] == [200, 404, 200, 200, 200]
    for answer in answers:
        assert answer["Cache-Control"] == "no-store"


def test_unknown_or_malformed_receipt_is_404(client):
    assert client.get("/api/v1/receipts/AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-A/").json()["code"] == "not_found"
    assert client.get("/api/v1/receipts/not-a-code/").status_code == HTTPStatus.NOT_FOUND
    assert "No ballot has this receipt" in check_on_the_page(client, "nope")


def test_receipt_checks_are_rate_limited(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "receipt": [("ip", "3/m")]}

    statuses = [client.get("/api/v1/receipts/AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-A/").status_code for _ in range(4)]
    page = client.post("/receipts/", {"code": "x"})

    assert statuses == [HTTPStatus.NOT_FOUND] * 3 + [HTTPStatus.TOO_MANY_REQUESTS]
    assert page.status_code == HTTPStatus.TOO_MANY_REQUESTS


# ------------------------------------------------------------------ instant runoff rules


def test_irv_majority_in_the_first_round_wins_at_once():
    rounds, winner = instant_runoff([1, 2, 3], {(1,): 6, (2,): 3, (3,): 2})

    assert winner == 1
    assert len(rounds) == 1


def test_irv_tie_for_last_is_broken_by_the_previous_round():
    # Round 1: 1 has 5, 2 has 4, 3 has 3, 4 has 1 -> 4 out, its ballot goes to 3.
    # Round 2: 2 and 3 tie at 4; in round 1, 3 had fewer, so 3 is eliminated.
    rankings = {(1,): 5, (2,): 4, (3,): 3, (4, 3): 1}
    rounds, winner = instant_runoff([1, 2, 3, 4], rankings)

    assert rounds[0]["eliminated"] == 4
    assert rounds[1]["tallies"] == {1: 5, 2: 4, 3: 4}
    assert rounds[1]["eliminated"] == 3
    assert winner is not None


def test_irv_complete_tie_eliminates_the_option_last_on_the_ballot():
    rounds, winner = instant_runoff([10, 20, 30], {(10,): 2, (20,): 2, (30,): 2})

    assert rounds[0]["eliminated"] == 30
    assert rounds[1]["eliminated"] == 20
    assert winner == 10


def test_irv_counts_exhausted_ballots_per_round():
    rounds, winner = instant_runoff([1, 2, 3], {(1,): 4, (2,): 3, (3,): 2})

    assert rounds[0]["eliminated"] == 3
    assert rounds[1]["exhausted"] == 2
    assert rounds[1]["continuing"] == 7
    assert winner == 1
