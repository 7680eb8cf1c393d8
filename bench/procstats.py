"""What a scenario costs the machine, read from /proc (Linux only).

- Peak RSS of each gunicorn worker during the scenario: the kernel's high-water mark
  (VmHWM) is reset when the scenario starts (``echo 5 > /proc/<pid>/clear_refs``) and
  read at its end, and VmRSS is sampled five times a second in case the reset is
  refused; the larger of the two is the worker's peak.
- CPU time spent by the gunicorn server (master and workers), by PostgreSQL (the
  backends connected to the bench database and the server's own background
  processes), by Redis, by wrk and by this process, against the whole machine's busy
  time over the same interval: what is left is what other processes took from the
  cores, the measure of how quiet the machine was.

Redis and PostgreSQL's background processes are shared with whatever else runs on the
machine, so their share is an upper bound of what the benchmark cost them.
"""

import contextlib
import os
import re
import resource
import threading
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
# "postgres: 15/main: <user> <database> <host>(<port>) idle" or "... [local] idle".
BACKEND = re.compile(r"^postgres: \S+: \S+ (\S+) (?:\S+\(\d+\)|\[local\])")


def children_of(pid: int) -> list[int]:
    """The child processes of ``pid`` (gunicorn's workers, for its master)."""
    try:
        listed = (PROC / str(pid) / "task" / str(pid) / "children").read_text().split()
        return [int(child) for child in listed]
    except OSError:
        pass
    children = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == pid:
                children.append(int(entry.name))
    return children


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(command name, parent pid, user + system CPU ticks) of a process, or None."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The name is in parentheses and may hold spaces or parentheses itself.
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return name, int(fields[1]), int(fields[11]) + int(fields[12])


def _cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in kB (empty when it is gone)."""
    values = {}
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        return {}
    return values


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot, all cores."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq + steal
    return busy, busy + idle + iowait


def _process_ticks() -> dict[int, tuple[str, int, int, str]]:
    """Every process: pid -> (name, parent pid, CPU ticks, command line)."""
    table = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        stat = _stat(pid)
        if stat is None:
            continue
        name, parent, ticks = stat
        table[pid] = (name, parent, ticks, _cmdline(pid) if name.startswith("postgres") else "")
    return table


def _children_ticks() -> int:
    """CPU ticks of this process's children that have ended (wrk, once waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return round((usage.ru_utime + usage.ru_stime) * TICKS_PER_SECOND)


@dataclass
class Sampler:
    """Start before a scenario, stop right after its load generator ends."""

    masters: list[int]
    database: str
    interval: float = 0.2
    peaks_kb: dict[int, int] = field(default_factory=dict)
    _reset: set[int] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def workers(self) -> list[int]:
        return [child for master in self.masters for child in children_of(master)]

    def start(self) -> "Sampler":
        for pid in self.workers():
            with contextlib.suppress(OSError):
                (PROC / str(pid) / "clear_refs").write_text("5")
                self._reset.add(pid)
        self._machine = _machine_ticks()
        self._processes = _process_ticks()
        self._children = _children_ticks()
        self._thread = threading.Thread(target=self._sample_loop, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def _sample_loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def _sample(self) -> None:
        for pid in self.workers():
            memory = _memory_kb(pid)
            seen = [memory.get("VmRSS", 0)]
            if pid in self._reset:
                seen.append(memory.get("VmHWM", 0))
            self.peaks_kb[pid] = max(self.peaks_kb.get(pid, 0), *seen)

    def stop(self) -> dict:
        """Peak RSS per worker and CPU time by group over the sampled interval."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        busy_end, total_end = _machine_ticks()
        processes = _process_ticks()
        groups = dict.fromkeys(("gunicorn", "postgres", "redis", "wrk", "bench"), 0)
        servers = set(self.masters) | set(self.workers())
        me = os.getpid()
        for pid, (name, parent, ticks, command) in processes.items():
            spent = ticks - self._processes.get(pid, (name, parent, 0, command))[2]
            if pid in servers or parent in self.masters:
                groups["gunicorn"] += spent
            elif name.startswith("postgres") and self._is_ours(command):
                groups["postgres"] += spent
            elif name.startswith("redis-server"):
                groups["redis"] += spent
            elif pid == me:
                groups["bench"] += spent
        groups["wrk"] = _children_ticks() - self._children
        busy = busy_end - self._machine[0]
        total = max(1, total_end - self._machine[1])
        groups["other"] = max(0, busy - sum(groups.values()))
        return {
            "peak_rss_mb": round(max(self.peaks_kb.values(), default=0) / 1024, 1),
            "rss_mb_per_worker": sorted(round(kb / 1024, 1) for kb in self.peaks_kb.values()),
            "cpu_seconds": {name: round(ticks / TICKS_PER_SECOND, 2) for name, ticks in groups.items()},
            "machine_busy_pct": round(100 * busy / total, 1),
            "others_pct": round(100 * groups["other"] / total, 1),
        }

    def _is_ours(self, command: str) -> bool:
        """A backend of the bench database, or one of the server's own processes
        (postmaster, WAL writer, checkpointer: no database on their command line)."""
        backend = BACKEND.match(command)
        return backend is None or backend.group(1) == self.database
