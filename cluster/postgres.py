"""PostgreSQL instances of our own for `make cluster` and the replica tests: a primary
and a streaming standby made with pg_basebackup, on their own ports and data
directories, started and stopped by their own pg_ctl. The machine's own server (5432)
is never touched.

Debian's PostgreSQL binaries (``/usr/lib/postgresql/<version>/bin``). PostgreSQL refuses
to run as root, so as root the server runs as the ``postgres`` user.
"""

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def bin_dir() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not versions:
        raise SystemExit("PostgreSQL server binaries not found under /usr/lib/postgresql")
    return versions[-1].parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(_as_server_user(command), check=True, capture_output=True, text=True, **kwargs)


@dataclass
class Instance:
    name: str
    data: Path
    port: int

    @property
    def log(self) -> Path:
        return self.data.parent / f"{self.name}.log"

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        _run(
            [str(bin_dir() / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start"]
        )

    def stop(self, mode: str = "fast") -> None:
        """``mode`` ``immediate`` is a crash: no shutdown checkpoint, as when a machine dies."""
        subprocess.run(
            _as_server_user([str(bin_dir() / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]),
            capture_output=True,
            check=False,
        )

    def promote(self) -> None:
        _run([str(bin_dir() / "pg_ctl"), "-D", str(self.data), "-w", "promote"])

    def sql(self, statement: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-Atc",
                statement,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout.strip()


def _prepare(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")


def primary_create(root: Path) -> Instance:
    """A new primary that accepts replication from 127.0.0.1 without a password."""
    _prepare(root)
    primary = Instance("primary", root / "primary", free_port())
    _run([str(bin_dir() / "initdb"), "-D", str(primary.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
    settings = [
        f"port = {primary.port}",
        "listen_addresses = '127.0.0.1'",
        "unix_socket_directories = ''",
        "wal_level = replica",
        "max_wal_senders = 10",
        "hot_standby = on",
        "fsync = on",
        "synchronous_commit = on",
        "shared_buffers = 64MB",
    ]
    with (primary.data / "postgresql.conf").open("a") as conf:
        conf.write("\n".join(settings) + "\n")
    with (primary.data / "pg_hba.conf").open("w") as hba:
        hba.write("host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n")
    primary.start()
    return primary


def standby_create(root: Path, primary: Instance, *, name: str = "standby1") -> Instance:
    """A hot standby streaming from ``primary``, made with pg_basebackup. Its own
    configuration asks for no synchronous standby, so that once promoted it does not
    wait for one that does not exist."""
    standby = Instance(name, root / name, free_port())
    _run(
        [
            str(bin_dir() / "pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-D",
            str(standby.data),
            "-R",
            "-X",
            "stream",
            "--checkpoint=fast",
        ]
    )
    with (standby.data / "postgresql.auto.conf").open("a") as conf:
        conf.write(
            f"port = {standby.port}\n"
            "synchronous_standby_names = ''\n"
            f"primary_conninfo = 'host=127.0.0.1 port={primary.port} user=postgres application_name={name}'\n"
        )
    standby.start()
    return standby


def synchronous_standby_set(primary: Instance, standby: Instance) -> None:
    """From now on a commit on ``primary`` is acknowledged only once ``standby`` has
    flushed it (set after the standby streams: before, every commit would wait)."""
    primary.sql(f"ALTER SYSTEM SET synchronous_standby_names = '{standby.name}'")
    primary.sql("SELECT pg_reload_conf()")
    deadline = time.monotonic() + 30
    while primary.sql("SELECT sync_state FROM pg_stat_replication") != "sync":
        if time.monotonic() > deadline:
            raise TimeoutError(f"{standby.name} did not become synchronous")
        time.sleep(0.05)


def wait_for_replay(primary: Instance, standby: Instance, timeout: float = 30) -> None:
    """Until the standby has replayed everything the primary had written when called."""
    target = primary.sql("SELECT pg_current_wal_lsn()")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        caught_up = standby.sql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")
        if caught_up == "t":
            return
        time.sleep(0.05)
    raise TimeoutError(f"{standby.name} did not replay up to {target} within {timeout} s")


def remove(root: Path, *instances: Instance) -> None:
    for instance in instances:
        instance.stop("immediate")
    shutil.rmtree(root, ignore_errors=True)
