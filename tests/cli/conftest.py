"""CLI fixtures: databases of each kind (SQLite file, private PostgreSQL database) and a study.

``pg_url`` (a private PostgreSQL database per test) comes from tests/conftest.py.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from slurmhpo.store import queries as q
from slurmhpo.store.db import make_engine, write_session
from slurmhpo.store.migrate import upgrade
from slurmhpo.store.models import Job

REPORTED = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind (no schema)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cli.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def populate(url: str) -> None:
    """Upgrade ``url`` and add study "mlp" (min val_loss) with four trials:

    trial 0: resources 1, 3 -> 0.5, 0.3 (two jobs, completed)  <- best
    trial 1: resource 1 -> 0.9 (stopped)
    trial 2: resource 1 -> NaN (failed, "diverged")
    trial 3: no observation (pending)
    and an empty study "other" (max accuracy).
    """
    engine = make_engine(url)
    upgrade(engine)
    with write_session(engine) as s:
        study = q.create_study(s, "mlp", {"name": "mlp"}, "val_loss", "min")
        q.create_study(s, "other", {"name": "other"}, "accuracy", "max")
        configs = [{"lr": 0.01, "act": "relu"}, {"lr": 0.1, "act": "tanh"}, {"lr": 1.0}, {}]
        trials = [q.add_trial(s, study, c, bracket=0) for c in configs]
        for start, target, state, reason in ((0, 1, "completed", None), (1, 3, "failed", "OOM")):
            s.add(
                Job(
                    study_id=study.id, trial_id=trials[0].id, backend="slurm",
                    external_id=f"100{start}", start_resource=start, target_resource=target,
                    state=state, exit_reason=reason,
                )
            )  # fmt: skip
        values = {0: [(1, 0.5), (3, 0.3)], 1: [(1, 0.9)], 2: [(1, math.nan)]}
        for index, reports in values.items():
            q.record_observations(
                s,
                trials[index],
                [q.Report(r, v, {"val_loss": v, "epoch": r}, REPORTED) for r, v in reports],
            )
        trials[0].state, trials[1].state = "completed", "stopped"
        trials[2].state, trials[2].failure_reason = "failed", "diverged"
    engine.dispose()


@pytest.fixture
def study_url(db_url: str) -> str:
    """A database of each kind holding the studies of :func:`populate`."""
    populate(db_url)
    return db_url
