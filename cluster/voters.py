"""Fans that retry: a threaded vote load for `make chaos` and tests/ops/test_chaos.py.

Every fan votes once, with an ``Idempotency-Key`` of its own. A fan that gets no answer
(a connection refused or reset, a timeout), a ``5xx`` (``503`` while the database is
away) or a ``429`` sends the same request again with the same key, after a short
backoff, until it gets ``201`` or a final ``4xx``, or runs out of attempts. A vote whose
commit raced a crash is then answered with its first receipt, never cast twice: that is
what the run checks afterwards against the database.

Standard library only (no Django): the chaos script and the test both drive a real
gunicorn over loopback.
"""

import http.client
import json
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

RETRIED_STATUSES = {429, 500, 502, 503, 504}


@dataclass
class Vote:
    token: str
    key: str
    attempts: int = 0
    status: int | None = None  # the final answer; None when the fan gave up
    receipt: str | None = None
    code: str = ""  # the error code of a final 4xx


@dataclass
class VoteLoad:
    """``start()``, then ``stop()`` (no new fans; fans mid-retry finish), ``join()``."""

    host: str
    port: int
    slug: str
    option: int
    tokens: list[str]
    threads: int = 8
    max_attempts: int = 60
    request_timeout: float = 10
    votes: list[Vote] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)  # what made fans retry
    _next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> "VoteLoad":
        self.started = time.monotonic()
        for number in range(self.threads):
            thread = threading.Thread(target=self._run, name=f"fan-{number}", daemon=True)
            thread.start()
            self._workers.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._workers:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        self.seconds = time.monotonic() - self.started

    def _take(self) -> Vote | None:
        with self._lock:
            if self._stop.is_set() or self._next >= len(self.tokens):
                return None
            vote = Vote(token=self.tokens[self._next], key=str(uuid.uuid4()))
            self._next += 1
            self.votes.append(vote)
            return vote

    def _run(self) -> None:
        body = json.dumps({"choices": [self.option]})
        path = f"/api/v1/polls/{self.slug}/votes/"
        while (vote := self._take()) is not None:
            self._cast(vote, path, body)

    def _cast(self, vote: Vote, path: str, body: str) -> None:
        headers = {
            "Content-Type": "application/json",
            "X-Session-Token": vote.token,
            "Idempotency-Key": vote.key,
        }
        while vote.attempts < self.max_attempts:
            vote.attempts += 1
            try:
                status, answer = self._post(path, body, headers)
            except (OSError, http.client.HTTPException) as error:
                why = type(error).__name__
            else:
                if status == 201:
                    vote.status, vote.receipt = status, json.loads(answer)["receipt"]
                    return
                if status not in RETRIED_STATUSES:
                    vote.status = status
                    try:
                        vote.code = json.loads(answer).get("code", "")
                    except ValueError:
                        vote.code = answer[:80].decode(errors="replace")
                    return
                why = str(status)
            with self._lock:
                self.errors[why] += 1
            time.sleep(min(1.0, 0.05 * 2 ** min(vote.attempts - 1, 5)) * random.uniform(0.5, 1.0))  # noqa: S311

    def _post(self, path: str, body: str, headers: dict) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.request_timeout)
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    # ------------------------------------------------------------------ what the fans saw

    @property
    def acknowledged(self) -> list[Vote]:
        return [vote for vote in self.votes if vote.status == 201]

    @property
    def retries(self) -> int:
        return sum(vote.attempts - 1 for vote in self.votes)

    def summary(self) -> dict:
        finals = Counter(str(vote.status or "gave up") for vote in self.votes)
        refused = Counter(vote.code for vote in self.votes if vote.code)
        return {
            "fans": len(self.votes),
            "acknowledged": len(self.acknowledged),
            "retries": self.retries,
            "retried_after": dict(self.errors),
            "final_answers": dict(finals),
            "refusals": dict(refused),
            "gave_up": finals.get("gave up", 0),
        }


def ballots_check(
    acknowledged: list[Vote],
    *,
    receipt_hash,
    stored_hashes: list[str],
    stored_answers: list[tuple[str, str]],
    over_allowance: int,
) -> dict:
    """What the database holds against what the fans were told.

    ``stored_hashes``: the receipt hash of every ballot of the poll; ``stored_answers``:
    (Idempotency-Key, receipt) of every stored answer; ``over_allowance``: voters with
    more ballots than the poll allows. A duplicate is a second ballot of one voter, a
    receipt stored twice, a receipt or key acknowledged twice, a key with two stored
    answers, or an acknowledged key whose stored answer is another receipt (a second
    ballot was cast for it). Lost: an acknowledged receipt no ballot has.
    """
    hashes = {receipt_hash(vote.receipt) for vote in acknowledged}
    stored = set(stored_hashes)
    found = len(hashes & stored)
    answers: dict[str, list[str]] = {}
    for key, receipt in stored_answers:
        answers.setdefault(key, []).append(receipt)
    keys = Counter(vote.key for vote in acknowledged)
    diverged = sum(1 for vote in acknowledged if answers.get(vote.key, [vote.receipt])[0] != vote.receipt)
    duplicates = (
        over_allowance
        + (len(stored_hashes) - len(stored))
        + (len(acknowledged) - len(hashes))
        + sum(count - 1 for count in keys.values())
        + sum(len(receipts) - 1 for receipts in answers.values())
        + diverged
    )
    return {
        "acknowledged": len(acknowledged),
        "found": found,
        "duplicates": duplicates,
        "lost": len(hashes) - found,
        "ballots_in_database": len(stored_hashes),
        "answers_in_database": len(stored_answers),
    }
