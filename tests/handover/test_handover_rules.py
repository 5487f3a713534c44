"""The hand-over chain's rules without Slurm: option defaults, refusals that write nothing,
the deadline, exactly one successor, and taking over a dead predecessor's lease."""

from __future__ import annotations

from pathlib import Path

import pytest
from handover_helpers import FakeQueue, cli, slurm_toy_study
from sqlalchemy import select

from slurmhpo.controller import handover
from slurmhpo.controller.sbatch_controller import QueuedJob, controller_job_for
from slurmhpo.controller.studies import register_study, resolve_paths
from slurmhpo.errors import ConfigError
from slurmhpo.store import leases
from slurmhpo.store.db import make_engine, read_session, write_session
from slurmhpo.store.migrate import upgrade
from slurmhpo.store.models import Lease, Study
from slurmhpo.study import StudySpec, load_study


def _spec(tmp_path: Path, name: str = "rules") -> tuple[StudySpec, Path]:
    path = slurm_toy_study(
        tmp_path, name=name, partition="gpu", toy_sleep=0.0, budget={"max_trials": 2}
    )
    return resolve_paths(load_study(path)), path


def test_options_default_to_the_study_slurm_table(tmp_path):
    spec, _ = _spec(tmp_path)
    job = controller_job_for(spec, "sqlite:///x.db")
    assert (job.partition, job.time_min, job.handover_min) == ("gpu", 10, 2.5)
    assert job.name == "shpo-ctl-rules" and job.generation == 1 and job.predecessor is None
    long = controller_job_for(spec, "sqlite:///x.db", time_min=120, partition="cpu")
    assert (long.partition, long.handover_min) == ("cpu", 5.0)
    with pytest.raises(ConfigError, match="--handover-min"):
        controller_job_for(spec, "sqlite:///x.db", time_min=1, handover_min=1.0)


def test_bad_file_or_option_exits_2_and_writes_nothing(tmp_path):
    db = tmp_path / "none.db"
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n')
    done = cli("submit-controller", str(bad), "--db", f"sqlite:///{db}")
    assert done.returncode == 2 and "objective" in done.stderr
    _, good = _spec(tmp_path)
    options = ["--time-min", "1", "--handover-min", "1"]
    done = cli("submit-controller", str(good), "--db", f"sqlite:///{db}", *options)
    assert done.returncode == 2 and "--handover-min" in done.stderr
    assert not db.exists()


def test_an_ended_study_is_refused(tmp_path):
    spec, _ = _spec(tmp_path, "ended")
    url = f"sqlite:///{tmp_path / 'e.db'}"
    engine = make_engine(url)
    upgrade(engine)
    register_study(engine, spec)
    with write_session(engine) as session:
        session.scalar(select(Study).where(Study.name == "ended")).state = "finished"
    engine.dispose()
    done = cli("submit-controller", "ended", "--db", url)
    assert done.returncode == 1 and "already finished" in done.stderr


def test_deadline_is_slurm_end_time_minus_margin_else_start_plus_limit(tmp_path):
    spec, _ = _spec(tmp_path)
    job = controller_job_for(spec, "sqlite:///x.db", time_min=10, handover_min=2)
    assert handover.deadline_of(job, "7", 1000.0, FakeQueue([], end=5000.0)) == 5000.0 - 120
    assert handover.deadline_of(job, "7", 1000.0, FakeQueue([], end=None)) == 1000.0 + 480


def test_exactly_one_successor(tmp_path):
    spec, _ = _spec(tmp_path)
    job = controller_job_for(spec, "sqlite:///x.db")
    waiting = QueuedJob("9", "PENDING", "afterany:7(unfulfilled)")
    other = QueuedJob("8", "PENDING", "afterany:77(unfulfilled)")
    reuse = FakeQueue([other, waiting])
    assert handover._ensure_successor(job, "7", reuse) == "9" and reuse.submitted == []
    fresh = FakeQueue([other])
    assert handover._ensure_successor(job, "7", fresh) == "101"
    ((successor, after),) = fresh.submitted
    assert after == "7" and successor.predecessor == "7" and successor.generation == 2
    blind = FakeQueue(None)  # squeue failed: one is submitted rather than none
    assert handover._ensure_successor(job, "7", blind) == "101"


def test_successor_takes_only_its_predecessors_lease(tmp_path):
    spec, _ = _spec(tmp_path, "lease")
    engine = make_engine(f"sqlite:///{tmp_path / 'l.db'}")
    upgrade(engine)
    register_study(engine, spec)
    with write_session(engine) as session:
        study = session.scalar(select(Study).where(Study.name == "lease"))
        assert leases.acquire_lease(session, study.id, "slurm:55@host:1:abc", 60)
    handover._take_predecessor_lease(engine, "lease", "5")  # 5 is not 55: kept
    with read_session(engine) as session:
        assert session.scalar(select(Lease.owner)) == "slurm:55@host:1:abc"
    handover._take_predecessor_lease(engine, "lease", "55")
    with read_session(engine) as session:
        assert session.scalar(select(Lease.owner)) is None
    engine.dispose()
    assert handover.owner_for_job("42").startswith("slurm:42@")
