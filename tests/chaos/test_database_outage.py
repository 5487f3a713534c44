"""Chaos: the database goes away mid-study; the controller waits, retries and loses nothing.

* SQLite: another process holds the write lock for 10 s (longer than the 5 s busy timeout).
* PostgreSQL: the server is stopped mid-study and unreachable for 60 s, then started again.
  The test starts a private server of its own (initdb into a temporary folder, its own port),
  so stopping it disturbs nothing else on the machine.

In both, ``slurmhpo run`` drives a real study of local processes, logs the outage, does not
exit, and the study ends with every invariant of :mod:`invariants` holding.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from slurmhpo.store.db import make_engine
from tests.chaos.invariants import check_invariants
from tests.conftest import skip_or_fail
from tests.controller.controller_helpers import study_toml
from tests.ops.ops_helpers import cli, finish, snapshot, start, wait_for

LOCK_SECONDS = 10.0
OUTAGE_SECONDS = 60.0
PG_PORT = 55432
PG_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))


def _study(tmp_path: Path) -> Path:
    return study_toml(
        tmp_path,
        scheduler={"type": "asha", "variant": "promotion", "eta": 3},
        budget={"max_trials": 9, "max_concurrent": 3},
        resource_max=9,
    )


def _drive(tmp_path: Path, db_url: str) -> subprocess.Popen[bytes]:
    assert cli("submit", str(_study(tmp_path)), "--db", db_url).returncode == 0
    return start(
        "run", "toy", "--db", db_url, "--poll-interval", "0.2",
        toy_sleep=0.3, log=tmp_path / "run.log",
    )  # fmt: skip


def _observations(db_url: str) -> int:
    try:
        return len(snapshot(db_url, "toy").get("observations", []))
    except Exception:  # the database is down: no answer yet
        return 0


def test_sqlite_write_lock_held_for_10_s(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'studies.db'}"
    proc = _drive(tmp_path, db_url)
    try:
        wait_for("first observations", lambda: _observations(db_url) >= 3)
        holder = sqlite3.connect(tmp_path / "studies.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # the write lock, as a stuck writer would hold it
        time.sleep(LOCK_SECONDS)
        assert proc.poll() is None, "the controller exited while the database was locked"
        holder.execute("COMMIT")
        holder.close()
        assert finish(proc, timeout=300) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (tmp_path / "run.log").read_text()
    assert "database error (1 in a row)" in log and "is unavailable or locked" in log, log
    assert "the database answers again; going on" in log
    engine = make_engine(db_url)
    counts = check_invariants(engine, "toy")
    engine.dispose()
    assert counts["failed_trials"] == []
    print(f"invariants held: {counts}")  # docs/reliability.md quotes these (pytest -s)


def _as_postgres(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *argv],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip


@pytest.fixture
def private_postgres() -> Iterator[Path]:
    """A PostgreSQL server of this test alone on 127.0.0.1:55432; yields its data folder.

    The folder is outside pytest's temporary tree, which is private to root (0700) while the
    server runs as the ``postgres`` user.
    """
    if not PG_BIN or shutil.which("runuser") is None or os.geteuid() != 0:
        skip_or_fail("a private PostgreSQL server needs root, runuser and Debian's PostgreSQL")
    bin_dir = PG_BIN[-1]
    home = Path(tempfile.mkdtemp(prefix="slurmhpo-chaos-pg-"))
    shutil.chown(home, "postgres", "postgres")
    data = home / "data"
    _as_postgres(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
    _start_postgres(data)
    try:
        yield data
    finally:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(bin_dir / "pg_ctl"), "-D", str(data),
             "-m", "immediate", "stop"],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        shutil.rmtree(home, ignore_errors=True)


def _start_postgres(data: Path) -> None:
    options = f"-p {PG_PORT} -k {data.parent} -c listen_addresses=127.0.0.1"
    log = str(data.parent / "server.log")  # not our pipe: the server outlives pg_ctl
    _as_postgres(
        str(PG_BIN[-1] / "pg_ctl"), "-D", str(data), "-o", options, "-l", log, "-w", "start"
    )


@pytest.mark.postgres
def test_postgresql_restarted_and_unreachable_for_60_s(
    tmp_path: Path, private_postgres: Path
) -> None:
    bin_dir = PG_BIN[-1]
    db_url = f"postgresql+psycopg://postgres@127.0.0.1:{PG_PORT}/postgres"
    proc = _drive(tmp_path, db_url)
    try:
        wait_for("first observations", lambda: _observations(db_url) >= 3)
        _as_postgres(str(bin_dir / "pg_ctl"), "-D", str(private_postgres), "-m", "fast", "stop")
        time.sleep(OUTAGE_SECONDS)
        assert proc.poll() is None, "the controller exited while the database was down"
        _start_postgres(private_postgres)
        assert finish(proc, timeout=300) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (tmp_path / "run.log").read_text()
    assert "database error (1 in a row)" in log, log
    assert "the database answers again; going on" in log
    engine = make_engine(db_url)
    counts = check_invariants(engine, "toy")
    engine.dispose()
    assert counts["failed_trials"] == []
    print(f"invariants held: {counts}")  # docs/reliability.md quotes these (pytest -s)
