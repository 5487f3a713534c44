"""One way to build a controller for a stored study: ``run``, the daemon, the hand-over chain
and the benchmark all call :func:`build_controller`, so they agree on where trial files go
and which backend runs the trials."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from slurmhpo.backends.base import Backend
from slurmhpo.backends.slurm_queries import SlurmQueries
from slurmhpo.controller.clock import Clock
from slurmhpo.controller.loop import Controller, ControllerOptions
from slurmhpo.controller.studies import default_runs_dir, make_backend
from slurmhpo.store.db import read_session
from slurmhpo.store.queries import get_study
from slurmhpo.study import StudySpec

if TYPE_CHECKING:
    from sqlalchemy import Engine


def build_controller(
    engine: Engine,
    study_name: str,
    *,
    backend: Backend | None = None,
    poll_interval: float = 5.0,
    lease_ttl: float = 60.0,
    clock: Clock | None = None,
    owner: str | None = None,
    slurm_queries: SlurmQueries | None = None,
) -> Controller:
    """A controller for the stored study ``study_name`` (not opened yet).

    Trial files go to the study's stored ``runs_dir`` (registration resolves it; a study
    stored without one uses :func:`default_runs_dir`). ``backend`` defaults to the one the
    study asks for (:func:`make_backend`, sharing ``slurm_queries`` if given).
    """
    with read_session(engine) as session:
        spec = StudySpec.from_dict(get_study(session, study_name).spec)
    options = ControllerOptions(
        runs_dir=Path(spec.runs_dir) if spec.runs_dir else default_runs_dir(),
        poll_interval=poll_interval,
        lease_ttl=lease_ttl,
    )
    chosen = backend if backend is not None else make_backend(spec, slurm_queries)
    return Controller(engine, study_name, chosen, options, clock, owner)
