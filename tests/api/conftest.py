"""Fixtures of the API fuzzing (test_schema_fuzz.py) and the line it leaves in CI's log."""

from collections import Counter

import pytest

# What the fuzzing did, for the summary at the end of the run: operations it reached,
# requests it sent (cases), and cases a check failed on.
FUZZ_STATS = pytest.StashKey[dict]()


def fuzz_stats_of(config: pytest.Config) -> dict:
    if FUZZ_STATS not in config.stash:
        config.stash[FUZZ_STATS] = {
            "operations": set(),
            "cases": 0,
            "failures": 0,
            "statuses": Counter(),
            "succeeded": set(),
            "started": {},
            "over_budget": set(),
        }
    return config.stash[FUZZ_STATS]


@pytest.fixture
def fuzz_stats(request) -> dict:
    return fuzz_stats_of(request.config)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    stats = config.stash.get(FUZZ_STATS, None)
    if stats is None:
        return
    statuses = ", ".join(f"{kind} {count}" for kind, count in sorted(stats["statuses"].items()))
    terminalreporter.write_line(
        f"API fuzzing (schemathesis, /api/schema/): {len(stats['operations'])} operations, "
        f"{stats['cases']} cases, {stats['failures']} failures (answers: {statuses}; "
        f"a 2xx on {len(stats['succeeded'])} operations)"
    )
    missed = sorted(stats["operations"] - stats["succeeded"])
    if missed:
        terminalreporter.write_line(f"API fuzzing: no 2xx on {', '.join(missed)}")
    if stats["over_budget"]:
        terminalreporter.write_line(
            f"API fuzzing stopped early (time budget): {sorted(stats['over_budget'])}"
        )
