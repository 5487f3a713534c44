"""``slurmhpo status``: the JSON document of a finished local study, warnings, --watch in a pty."""

from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from controller_helpers import study_toml
from ops_helpers import CLI, cli, snapshot, wait_for

from slurmhpo.store import leases
from slurmhpo.store.db import make_engine, write_session
from slurmhpo.store.queries import get_study


def digest(db_file: Path) -> str:
    """Content hash of the database file and its WAL: what a write would change."""
    h = hashlib.sha256()
    for path in (db_file, db_file.with_name(db_file.name + "-wal")):
        h.update(path.read_bytes() if path.exists() else b"")
    return h.hexdigest()


def test_status_json_describes_a_finished_study(tmp_path: Path, db_url: str) -> None:
    path = study_toml(tmp_path, budget={"max_trials": 9, "max_concurrent": 3, "max_gpu_hours": 5})
    assert cli("run", str(path), "--db", db_url, "--poll-interval", "0.1", "-q").returncode == 0
    rows = snapshot(db_url, "toy")
    db_file = Path(db_url.removeprefix("sqlite:///"))
    before = digest(db_file)

    answer = cli("status", "toy", "--json", "--db", db_url)
    assert answer.returncode == 0, answer.stderr
    doc = json.loads(answer.stdout)
    assert digest(db_file) == before  # read-only
    assert doc["schema_version"] == 1
    s = doc["study"]
    assert (s["name"], s["state"], s["metric"], s["mode"]) == ("toy", "finished", "loss", "min")
    states = Counter(t.state for t in rows["trials"])
    assert s["trials"]["total"] == 9 == sum(s["trials"]["by_state"].values())
    assert {k: v for k, v in s["trials"]["by_state"].items() if v} == dict(states)
    # rungs 1, 3, 9 (eta 3); occupancy equals the observations stored at those levels
    assert s["rungs"]["kind"] == "rungs" and s["rungs"]["levels"] == [1, 3, 9]
    observed = Counter(o.resource for o in rows["observations"])
    (bracket,) = s["rungs"]["brackets"]
    assert bracket["bracket"] == 0
    assert {o["resource"]: o["trials"] for o in bracket["occupancy"]} == {
        r: observed[r] for r in (1, 3, 9)
    }
    assert bracket["occupancy"][0]["trials"] == 9
    # the incumbent: lowest loss at the highest level any trial reached (the toy is monotone)
    top = max(o.resource for o in rows["observations"])
    best = min((o for o in rows["observations"] if o.resource == top), key=lambda o: o.value)
    number = {t.id: t.number for t in rows["trials"]}[best.trial_id]
    config = {t.id: t.config for t in rows["trials"]}[best.trial_id]
    assert s["incumbent"] == {
        "trial": number,
        "value": best.value,
        "resource": top,
        "config": config,
    }
    assert s["budget"]["trials"] == {"used": 9, "limit": 9}
    assert s["budget"]["gpu_hours"]["limit"] == 5.0
    assert 0 < s["budget"]["gpu_hours"]["used"] < 5.0
    assert s["budget"]["wall_hours"]["limit"] is None and s["budget"]["wall_hours"]["used"] > 0
    assert s["jobs"] == {"pending": 0, "running": 0}
    assert s["controller"] is None and s["warnings"] == []  # `run` released its lease
    seqs = [d["seq"] for d in s["decisions"]]
    assert len(seqs) == 10 and seqs == sorted(seqs, reverse=True)
    assert seqs[0] == rows["study"].last_decision_seq
    assert s["commands"] == []

    overview = json.loads(cli("status", "--json", "--db", db_url).stdout)
    assert overview["schema_version"] == 1
    (summary,) = overview["studies"]
    assert (summary["name"], summary["state"], summary["n_trials"]) == ("toy", "finished", 9)
    assert summary["best_value"] == best.value

    text = cli("status", "toy", "--db", db_url).stdout
    assert "study toy: finished" in text and "[" in text and "9 / 9" in text


def test_status_warns_about_an_expired_lease(tmp_path: Path, db_url: str) -> None:
    assert cli("submit", str(study_toml(tmp_path)), "--db", db_url).returncode == 0
    engine = make_engine(db_url)
    with write_session(engine) as session:
        study_id = get_study(session, "toy").id
        assert leases.acquire_lease(session, study_id, "node7:4242:dead", 0.05)
    engine.dispose()

    def warned() -> str | None:
        out = cli("status", "toy", "--db", db_url).stdout
        return out if "WARNING" in out else None

    text = wait_for("the lease to expire", warned, timeout=60)
    assert "WARNING" in text and "node7:4242:dead" in text and "slurmhpo run toy" in text
    doc = json.loads(cli("status", "toy", "--json", "--db", db_url).stdout)["study"]
    assert doc["controller"]["live"] is False and len(doc["warnings"]) == 1


def read_until(fd: int, done: Callable[[str], bool], timeout: float = 60.0) -> str:
    """Read from ``fd`` until ``done(text)`` holds; fail after ``timeout`` seconds."""
    text = ""
    deadline = time.monotonic() + timeout
    while not done(text):
        if time.monotonic() > deadline:
            raise AssertionError(f"no expected output within {timeout} s; got {text!r}")
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            text += os.read(fd, 65536).decode(errors="replace")
    return text


def test_status_watch_redraws_in_a_terminal_until_ctrl_c(tmp_path: Path, db_url: str) -> None:
    assert cli("submit", str(study_toml(tmp_path, name="watched")), "--db", db_url).returncode == 0
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [*CLI, "status", "watched", "--watch", "--interval", "0.2", "--db", db_url],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    try:
        text = read_until(master, lambda t: t.count("study watched:") >= 2)
        assert "\x1b[2J" in text  # a terminal gets its screen cleared between frames
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def test_status_watch_prints_frames_one_after_another_when_piped(
    tmp_path: Path, db_url: str
) -> None:
    assert cli("submit", str(study_toml(tmp_path, name="piped")), "--db", db_url).returncode == 0
    proc = subprocess.Popen(
        [*CLI, "status", "--watch", "--interval", "0.2", "--db", db_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        text = read_until(proc.stdout.fileno(), lambda t: t.count("piped") >= 2)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "\x1b[" not in text and "NAME" in text
