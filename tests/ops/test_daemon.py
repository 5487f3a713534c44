"""Two ``slurmhpo daemon`` processes share one SQLite database and three submitted studies.

Daemon A takes every study first; B starts while A holds them (and must keep off); A is then
SIGKILLed mid-study. B takes the studies over once their leases expire (short --lease-ttl),
re-adopts the jobs A left running, and finishes all three, with no observation lost or stored
twice, no trial started twice, a gap-free decision log per study, and (on Slurm) no job of
the studies left in the queue. The same test runs on local processes and on the real local
Slurm cluster.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from controller_helpers import study_toml
from ops_helpers import cli, finish, snapshot, start, wait_for
from sqlalchemy import select

from slurmhpo.backends.base import JobState
from slurmhpo.backends.local import LocalBackend
from slurmhpo.cli.main import main
from slurmhpo.store.db import make_engine, read_session
from slurmhpo.store.models import Decision, Job, Lease, Study

TOOK = re.compile(r"^(\S+ \S+) INFO slurmhpo.daemon took study (\S+) as \S+:(\d+):")
# A round on Slurm (one squeue + sacct, then up to three sbatch calls) takes about a second
# here, so the lease there must outlive several of them; local rounds take milliseconds.
LEASE_TTL = {"local": "2", "slurm": "6"}


def daemon(tmp_path: Path, db_url: str, tag: str, lease_ttl: str) -> subprocess.Popen[bytes]:
    return start(
        "daemon", "--db", db_url, "--poll-interval", "0.1", "--lease-ttl", lease_ttl,
        "--exit-when-idle", "--log-file", str(tmp_path / f"daemon-{tag}.log"),
        toy_sleep=0.3, log=tmp_path / f"daemon-{tag}.out",
    )  # fmt: skip


def lease_pids(db_url: str) -> dict[str, int]:
    """study name -> pid of the process holding its lease (from the owner host:pid:uuid)."""
    engine = make_engine(db_url)
    try:
        with read_session(engine) as s:
            rows = s.execute(select(Study.name, Lease.owner).join(Lease)).all()
    finally:
        engine.dispose()
    return {name: int(owner.split(":")[-2]) for name, owner in rows}


def takeovers(log: Path) -> list[tuple[datetime, str, int]]:
    """(time, study, pid) of every "took study" line of a daemon log."""
    found = []
    for line in log.read_text().splitlines():
        match = TOOK.match(line)
        if match:
            when = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f")
            found.append((when, match[2], int(match[3])))
    return found


def metric_epochs(trial_jobs: list[Job]) -> list[int]:
    """Every epoch any segment of a trial wrote to its metric file, in order."""
    epochs = []
    for job in trial_jobs:
        path = Path(job.metric_path or "")
        if path.exists():
            epochs += [json.loads(line)["epoch"] for line in path.read_text().splitlines()]
    return epochs


@pytest.mark.parametrize("backend", ["local", pytest.param("slurm", marks=pytest.mark.slurm)])
def test_two_daemons_share_studies_and_survive_a_sigkill(
    tmp_path: Path, db_url: str, backend: str, request: pytest.FixtureRequest
) -> None:
    tag = uuid.uuid4().hex[:6]  # unique job names on the shared cluster
    names = tuple(f"{name}-{tag}" for name in ("alpha", "beta", "gamma"))
    slurm = {}
    if backend == "slurm":
        partition = request.getfixturevalue("slurm_partition")
        slurm = {"partition": partition, "gpus_per_task": 1, "time_min": 10}
    for name in names:
        path = study_toml(
            tmp_path,
            name=name,
            backend=backend,
            scheduler={"type": "fifo"},
            budget={"max_trials": 8, "max_concurrent": 2},
            resource_max=4,
            slurm=slurm,
        )
        answer = cli("submit", str(path), "--db", db_url)
        assert answer.returncode == 0 and answer.stdout.strip() == name
    a = daemon(tmp_path, db_url, "a", LEASE_TTL[backend])
    b = None
    try:
        wait_for(
            "daemon A to hold all three", lambda: lease_pids(db_url) == dict.fromkeys(names, a.pid)
        )
        b = daemon(tmp_path, db_url, "b", LEASE_TTL[backend])
        # Mid-study: every study has results, none is done. B is up meanwhile (it logs).
        wait_for(
            "results in every study",
            lambda: all(len(snapshot(db_url, n)["observations"]) >= 4 for n in names),
            timeout=240,
        )
        wait_for("daemon B to start", lambda: "daemon started" in _read(tmp_path / "daemon-b.log"))
        assert set(lease_pids(db_url).values()) == {a.pid}  # B kept off A's live leases
        assert all(snapshot(db_url, n)["study"].state == "running" for n in names)
        a.send_signal(signal.SIGKILL)
        a.wait(timeout=30)
        killed_at = datetime.now()
        assert finish(b, timeout=480) == 0  # --exit-when-idle: all three studies ended
    finally:
        for proc in (a, b):
            if proc is not None and proc.poll() is None:
                proc.kill()

    # B took each study exactly once, after A died; A never lost a lease while alive.
    taken_by_b = takeovers(tmp_path / "daemon-b.log")
    assert sorted(name for _, name, _ in taken_by_b) == sorted(names)
    assert all(when >= killed_at.replace(microsecond=0) for when, _, _ in taken_by_b)
    assert sorted(name for _, name, _ in takeovers(tmp_path / "daemon-a.log")) == sorted(names)
    assert "lost the lease" not in _read(tmp_path / "daemon-a.log")
    assert lease_pids(db_url) == {}  # B released each lease when its study finished

    engine = make_engine(db_url)
    for name in names:
        rows = snapshot(db_url, name)
        assert rows["study"].state == "finished"
        assert len(rows["trials"]) == 8
        with read_session(engine) as s:
            decisions = list(
                s.scalars(select(Decision).where(Decision.study_id == rows["study"].id))
            )
        seqs = sorted(d.seq for d in decisions)
        assert seqs == list(range(1, len(seqs) + 1))  # unique and gap-free
        starts = Counter(d.trial_id for d in decisions if d.kind == "start")
        assert set(starts.values()) == {1} and len(starts) == 8  # no trial started twice
        number = {t.id: t.number for t in rows["trials"]}
        stored = Counter((number[o.trial_id], o.resource) for o in rows["observations"])
        assert set(stored.values()) == {1}  # nothing stored twice
        for trial in rows["trials"]:
            assert trial.state == "completed"
            jobs = [job for job in rows["jobs"] if job.trial_id == trial.id]
            written = sorted(set(metric_epochs(jobs)))
            observed = sorted(r for (n, r) in stored if n == trial.number)
            assert observed == written == [1, 2, 3, 4]  # nothing lost
        assert {job.state for job in rows["jobs"]} == {"completed"}
    engine.dispose()
    if backend == "slurm":  # no orphan: nothing of the three studies is left in the queue
        queue = subprocess.run(
            ["squeue", "-h", "-o", "%j"], capture_output=True, text=True, timeout=60, check=True
        )
        assert not [line for line in queue.stdout.splitlines() if tag in line]


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def test_sigterm_releases_the_leases_and_leaves_jobs_running(tmp_path: Path, db_url: str) -> None:
    path = study_toml(
        tmp_path, scheduler={"type": "fifo"}, budget={"max_trials": 2, "max_concurrent": 2}
    )
    assert cli("submit", str(path), "--db", db_url).returncode == 0
    proc = start(
        "daemon", "--db", db_url, "--poll-interval", "0.1", "--lease-ttl", "60",
        toy_sleep=5.0, log=tmp_path / "daemon.out",
    )  # fmt: skip
    backend = LocalBackend(tmp_path / "runs" / "_local")
    ids: list[str] = []
    try:
        running = wait_for(
            "two running jobs",
            lambda: (
                [j for j in snapshot(db_url, "toy")["jobs"] if j.state == "running"][1:]
                and snapshot(db_url, "toy")["jobs"]
            ),
        )
        ids = [job.external_id for job in running if job.external_id]
        assert lease_pids(db_url) == {"toy": proc.pid}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert lease_pids(db_url) == {}  # released at once, not left to expire
        statuses = backend.poll(ids)
        assert {s.state for s in statuses.values()} == {JobState.RUNNING}
        assert snapshot(db_url, "toy")["study"].state == "running"
    finally:
        if proc.poll() is None:
            proc.kill()
        backend.cancel(ids)


def test_print_systemd_unit_names_absolute_paths_and_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    argv = ["daemon", "--print-systemd-unit", "--db", url, "--log-file", "daemon.log"]
    assert main(argv) == 0
    unit = capsys.readouterr().out
    (exec_start,) = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    program, *args = shlex.split(exec_start.removeprefix("ExecStart="))
    assert Path(program).is_absolute() and Path(program).exists()
    assert args[args.index("--db") + 1] == url
    assert Path(args[args.index("--log-file") + 1]).is_absolute()
    assert "[Install]" in unit and "WantedBy=default.target" in unit
    assert not (tmp_path / "d.db").exists()  # printing the unit touches no database
