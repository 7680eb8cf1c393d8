"""Recount a published Encore poll from its bulletin board, with no database.

    python -m polls.recount bulletin.json [--results results.json]
        [--public-key encore-signing-key.pem] [--checkpoints checkpoints.json]

Downloads: the board from ``/api/v1/polls/<slug>/bulletin/``, the results from
``/api/v1/polls/<slug>/results/``, the key from ``/.well-known/encore-signing-key.pem``
and, better saved while the poll was open, the checkpoints from
``/api/v1/polls/<slug>/checkpoints/``. Needs only Python 3.11 and, to check the
signature, the ``cryptography`` package. Exits 0 when every check passes, 1 if not.

What it checks:
  digest       the SHA-256 of the board file is the digest in the results
  signature    the results are signed by the key (Ed25519)
  checkpoints  every ballot belongs to a checkpoint, and each checkpoint's count and
               chained digest follow from the board's ballots: nothing was added
               behind a checkpoint or dropped; checkpoints you saved match the board's
  allowance    no voter tag holds more ballots than the allowance per period
  totals       the totals (and instant-runoff rounds) recomputed from the board are
               the published ones
"""

import argparse
import base64
import hashlib
import json
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from polls.tally_math import (
    GENESIS_DIGEST,
    allowance_violations,
    ballot_line,
    checkpoint_digest,
    results_from_board,
)

COMPARED_FIELDS = ("ballots", "invalidated", "quarantined", "options", "rounds", "winner", "turnout")


class Report:
    def __init__(self, out: Callable[[str], None]):
        self.out = out
        self.failures = 0

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.failures += 0 if ok else 1
        self.out(f"[{'PASS' if ok else 'FAIL'}] {name}: {detail}")

    def note(self, text: str) -> None:
        self.out(f"       {text}")


def verify_checkpoints(document: dict, progress: Callable[[str], None] | None = None) -> tuple[bool, str]:
    ballots = document["ballots"]
    uncovered = sum(1 for ballot in ballots if ballot.get("checkpoint") is None)
    if uncovered:
        return False, f"{uncovered} ballot(s) belong to no checkpoint"
    # One pass to group the ballots: a week-long poll has about a thousand checkpoints.
    batches: dict[int, list[str]] = defaultdict(list)
    for ballot in ballots:
        batches[ballot["checkpoint"]].append(
            ballot_line(
                receipt_hash=ballot["receipt_hash"],
                voter_tag=ballot["voter_tag"],
                choices=ballot["choices"],
                day=ballot["day"],
            )
        )
    checkpoints = sorted(document["checkpoints"], key=lambda c: c["seq"])
    previous, count = GENESIS_DIGEST, 0
    for index, checkpoint in enumerate(checkpoints, start=1):
        batch = batches.get(checkpoint["seq"], [])
        count += len(batch)
        previous = checkpoint_digest(previous, batch)
        if count != checkpoint["count"] or previous != checkpoint["digest"]:
            return False, (
                f"checkpoint {checkpoint['seq']} says {checkpoint['count']} ballots and digest "
                f"{checkpoint['digest'][:12]}…, the board gives {count} and {previous[:12]}…"
            )
        if progress and index % 100 == 0:
            progress(f"checkpoints: {index}/{len(checkpoints)} verified")
    strays = set(batches) - {c["seq"] for c in checkpoints}
    if strays:
        return False, f"ballots claim checkpoints that were never published: {sorted(strays)}"
    return True, f"{len(checkpoints)} checkpoint(s), {count} ballots, chain intact"


def verify_saved_checkpoints(document: dict, saved: list[dict]) -> tuple[bool, str]:
    board = {c["seq"]: (c["count"], c["digest"]) for c in document["checkpoints"]}
    for checkpoint in saved:
        if board.get(checkpoint["seq"]) != (checkpoint["count"], checkpoint["digest"]):
            return False, f"saved checkpoint {checkpoint['seq']} differs from the board's"
    return True, f"{len(saved)} saved checkpoint(s) match the board"


def verify_signature(results: dict, public_key_pem: bytes) -> tuple[bool, str]:
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.serialization import load_pem_public_key
    except ImportError:
        return False, "install the 'cryptography' package to check signatures"
    unsigned = {key: value for key, value in results.items() if key != "signature"}
    payload = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    try:
        load_pem_public_key(public_key_pem).verify(base64.b64decode(results.get("signature", "")), payload)
    except (InvalidSignature, ValueError, TypeError):
        return False, "the signature does not match the results and key"
    return True, "Ed25519 signature valid"


def recount(
    board_bytes: bytes,
    *,
    results: dict | None = None,
    public_key_pem: bytes | None = None,
    saved_checkpoints: list[dict] | None = None,
    out: Callable[[str], None] = print,
    progress: Callable[[str], None] | None = None,
) -> bool:
    report = Report(out)
    document = json.loads(board_bytes.decode("utf-8"))
    poll = document["poll"]
    out(f"Recount of “{poll['title']}” ({poll['slug']}): {len(document['ballots'])} ballots on the board")

    digest = hashlib.sha256(board_bytes).hexdigest()
    if results is not None:
        report.check("digest", results.get("digest") == digest, f"board SHA-256 {digest}")
    else:
        report.note(f"board SHA-256 {digest} (no results given to compare)")
    if results is not None and public_key_pem is not None:
        report.check("signature", *verify_signature(results, public_key_pem))

    report.check("checkpoints", *verify_checkpoints(document, progress=progress))
    if saved_checkpoints is not None:
        report.check("saved checkpoints", *verify_saved_checkpoints(document, saved_checkpoints))

    by_period = "day" if poll["period"] == "daily" else None
    pairs = ((b["voter_tag"], b["day"] if by_period else "poll") for b in document["ballots"])
    over = allowance_violations(pairs, poll["votes_per_period"])
    report.check(
        "allowance",
        not over,
        f"no voter over {poll['votes_per_period']} per {poll['period']}" if not over else f"{len(over)} over",
    )

    recounted = results_from_board(document)
    if results is not None:
        differing = [field for field in COMPARED_FIELDS if recounted.get(field) != results.get(field)]
        report.check(
            "totals", not differing, "identical" if not differing else f"differ in {', '.join(differing)}"
        )
    for option in recounted["options"]:
        report.note(f"{option['label']}: {option['votes']} ({option['share'] * 100:.2f} %)")
    if recounted.get("invalidated"):
        report.note(f"invalidated by reason: {recounted['invalidated']}")
    if "rounds" in recounted:
        labels = {option["id"]: option["label"] for option in document["options"]}
        for record in recounted["rounds"]:
            outcome = (
                f"winner {labels[record['winner']]}"
                if record["winner"] is not None
                else f"eliminated {labels.get(record['eliminated'], '-')}"
            )
            report.note(f"round {record['round']}: exhausted {record['exhausted']}, {outcome}")

    verdict = "VERIFIED" if report.failures == 0 else f"NOT VERIFIED ({report.failures} check(s) failed)"
    out(f"Verdict: {verdict}")
    return report.failures == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m polls.recount", description=__doc__.split("\n\n")[0])
    parser.add_argument("bulletin", type=Path, help="the bulletin board JSON as downloaded")
    parser.add_argument("--results", type=Path, help="the published results JSON")
    parser.add_argument("--public-key", type=Path, help="the service's public key (PEM)")
    parser.add_argument("--checkpoints", type=Path, help="checkpoints saved while the poll was open (JSON)")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text("utf-8")) if args.results else None
    saved = json.loads(args.checkpoints.read_text("utf-8")) if args.checkpoints else None
    if isinstance(saved, dict):
        saved = saved.get("checkpoints", saved.get("results", []))
    ok = recount(
        args.bulletin.read_bytes(),
        progress=lambda line: print(line, file=sys.stderr, flush=True),
        results=results,
        public_key_pem=args.public_key.read_bytes() if args.public_key else None,
        saved_checkpoints=saved,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
