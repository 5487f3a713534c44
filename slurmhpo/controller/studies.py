"""Registering a study in the database, and choosing the backend that runs its trials.

A study is stored with every path resolved (the trial's working directory, the folder for
per-trial files, and a bare ``python``/``python3`` at the head of the trial command, which
becomes the controller's own interpreter), so a controller restarted later, from another
directory or another login node, runs the same commands in the same places.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from slurmhpo.backends.base import Backend
from slurmhpo.backends.slurm_queries import SlurmQueries
from slurmhpo.controller.rundir import RunDir, execution_digest
from slurmhpo.controller.warm_start import gather_warm_start, warm_start_names
from slurmhpo.errors import ConfigError, NotFoundError
from slurmhpo.store import leases, runtime
from slurmhpo.store.db import write_session
from slurmhpo.store.queries import create_study, get_study
from slurmhpo.study import StudySpec

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from slurmhpo.store.models import Study

log = logging.getLogger("slurmhpo.controller")


def default_runs_dir() -> Path:
    """Per-user folder for trial files (metrics, checkpoints, logs); must be on a shared FS
    when trials run on compute nodes (home directories usually are)."""
    return Path(platformdirs.user_data_dir("slurmhpo")) / "runs"


def resolve_paths(spec: StudySpec, cwd: Path | None = None) -> StudySpec:
    """The spec with ``trial.workdir`` and ``runs_dir`` made absolute (defaults filled in)."""
    base = (cwd or Path.cwd()).resolve()
    workdir = base / (spec.trial.workdir or ".")
    runs_dir = base / spec.runs_dir if spec.runs_dir else default_runs_dir()
    trial = dataclasses.replace(
        spec.trial, workdir=str(workdir.resolve()), command=resolve_interpreter(spec.trial.command)
    )
    return dataclasses.replace(spec, trial=trial, runs_dir=str(runs_dir.resolve()))


def run_dir_of(study: Study, spec: StudySpec) -> RunDir:
    """The folder of ``study``'s files under the spec's runs_dir (see controller.rundir)."""
    root = Path(spec.runs_dir) if spec.runs_dir else default_runs_dir()
    return RunDir(root, study.run_key, study.uid, study.name)


BARE_PYTHONS = frozenset({"python", "python3"})


def resolve_interpreter(command: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """``command`` with a bare ``python``/``python3`` head replaced by ``sys.executable``.

    A job finds a bare name through ITS PATH, which on a compute node (or in a controller
    started as ``.venv/bin/slurmhpo`` without the venv activated) is often another Python,
    without the user's packages: every trial then fails on an import. The interpreter running
    the controller is the one the user installed slurmhpo (and so, usually, their code) into.
    The path is kept as it is, not resolved: a venv's ``bin/python`` is a symlink whose
    target would lose the venv's packages.
    """
    if command and command[0] in BARE_PYTHONS and sys.executable:
        return (sys.executable, *command[1:])
    return command


# Options after which an interpreter runs no script file (python -m/-c, bash -c, perl -e ...).
NO_SCRIPT_OPTIONS = frozenset({"-m", "-c", "-e"})


def script_of(command: tuple[str, ...]) -> str | None:
    """The file the command runs, when it names one: a head with a ``/`` in it (``./run.sh``),
    else the first argument that looks like a file (a ``/`` or a suffix: ``train.py``) and is
    not an option, unless ``-m``/``-c``/``-e`` came first. None when nothing looks like one."""
    head, *args = command
    if "/" in head and not Path(head).is_absolute():
        return head
    for arg in args:
        if arg in NO_SCRIPT_OPTIONS:
            return None
        if not arg.startswith("-") and ("/" in arg or Path(arg).suffix):
            return arg
    return None


def missing_script(spec: StudySpec) -> str | None:
    """A warning when the script of ``spec``'s command (resolved by :func:`resolve_paths`) is
    not there, seen from the directory its jobs start in (``trial.workdir``); else None.

    Only a warning: the file may exist only where jobs run (a node-local or unmounted path).
    """
    if spec.trial.command is None or spec.trial.workdir is None:
        return None
    script = script_of(spec.trial.command)
    if script is None or (Path(spec.trial.workdir) / script).exists():
        return None
    where = "" if Path(script).is_absolute() else f" in {spec.trial.workdir}"
    return (
        f"trial.command: {script} does not exist{where}, the directory the jobs start in "
        "(trial.workdir, relative to where slurmhpo is started); every trial would fail. "
        "Fix the path in trial.command, or set trial.workdir, or start slurmhpo from the "
        "directory the path is relative to"
    )


def register_study(engine: Engine, spec: StudySpec) -> StudySpec:
    """Store ``spec`` as a new study, or return the stored one if it is the same study.

    Either way the study's run folder is claimed for it (its marker written: see
    :mod:`slurmhpo.controller.rundir`), since the caller holds the study file, which is what
    the controller will trust. A different study under a taken name replaces the stored one
    only if no job of it ever started (e.g. sbatch refused its options): there is nothing to
    lose. Otherwise it is refused: driving the old definition, or overwriting it, would mix
    two searches in one history.
    """
    with write_session(engine) as session:
        try:
            study = get_study(session, spec.name)
        except NotFoundError:
            _create(session, spec)
            log.info("registered study %s", spec.name)
            return spec
        stored = StudySpec.from_dict(study.spec)
        if stored == spec or _same_but_interpreter_path(stored, spec):
            run_dir_of(study, stored).claim(execution_digest(stored))
            return stored
        uid = study.uid
        started, unsure_keys = runtime.started_job_keys(session, study)
    if started or (unsure_keys and make_backend(stored).find(unsure_keys)):
        raise ConfigError(
            "name",
            f"a different study named {spec.name!r} is already in the database, and jobs "
            "of it have started",
            f"rename this study, or continue the stored one with: slurmhpo run {spec.name}",
        )
    with write_session(engine) as session:
        study = get_study(session, spec.name)
        held = leases.current_lease(session, study.id)
        if study.uid != uid or runtime.started_job_keys(session, study)[0]:
            raise ConfigError("name", f"study {spec.name!r} changed meanwhile", "try again")
        if held is not None and held[1]:
            raise ConfigError(
                "name",
                f"study {spec.name!r} is driven by {held[0].owner}, so it cannot be replaced",
                f"stop that controller (slurmhpo cancel {spec.name}, or Ctrl-C), then retry",
            )
        runtime.delete_study(session, study)
        session.flush()
        _create(session, spec)
    log.warning("replaced study %s by the new file: none of its jobs had started", spec.name)
    return spec


def _create(session: Session, spec: StudySpec) -> None:
    """Insert the study and claim its run folder; a refused claim rolls the insert back.

    A warm start is checked first (the studies it names exist and fit this one), so a
    mistake there stops ``run`` with exit 2 before anything is stored; the controller reads
    them again, for good, when it first opens the study.
    """
    if warm_start_names(spec):
        gather_warm_start(session, spec)
    study = create_study(
        session, spec.name, spec.to_dict(), spec.objective.metric, spec.objective.mode
    )
    run_dir_of(study, spec).claim(execution_digest(spec))


def _same_but_interpreter_path(stored: StudySpec, spec: StudySpec) -> bool:
    """Whether the two differ only in the spelling of one Python interpreter at the head of
    the trial command: the same file launched as ``slurmhpo`` (``.venv/bin/python3``) and as
    ``python -m slurmhpo.cli.main`` (``.venv/bin/python``) resolves a bare ``python``
    differently, and a study stored before bare names were resolved keeps ``python``. The
    stored spec, and its interpreter, is then the one that runs."""
    old, new = stored.trial.command, spec.trial.command
    if not old or not new or old[1:] != new[1:] or old[0] == new[0]:
        return False
    same_file = os.path.realpath(old[0]) == os.path.realpath(new[0])
    if not (old[0] in BARE_PYTHONS or same_file):
        return False
    trial = dataclasses.replace(spec.trial, command=old)
    return dataclasses.replace(spec, trial=trial) == stored


def check_backend_available(spec: StudySpec) -> None:
    """Refuse ``backend = "slurm"`` where Slurm's commands are missing, before anything is
    registered: otherwise the study would be stored and then fail at its first submission."""
    if spec.backend == "slurm" and shutil.which("sbatch") is None:
        raise ConfigError(
            "backend",
            '"slurm" was asked for, but sbatch is not on PATH',
            'run on a node with the Slurm client commands, or set backend = "local"',
        )


def make_backend(spec: StudySpec, slurm_queries: SlurmQueries | None = None) -> Backend:
    """The backend the study asks for; ``auto`` means Slurm when ``sbatch`` is on PATH.

    ``slurm_queries``, when given, is shared with other studies' Slurm backends (the daemon
    polls all of them with one squeue and one sacct call per round).
    """
    kind = spec.backend
    if kind == "auto":
        kind = "slurm" if shutil.which("sbatch") else "local"
        log.info(
            "backend: %s (auto: %s)",
            kind,
            "sbatch found" if kind == "slurm" else "no sbatch on PATH",
        )
    runs_dir = Path(spec.runs_dir or default_runs_dir())
    if kind == "slurm":
        from slurmhpo.backends.slurm import SlurmBackend

        return SlurmBackend(runs_dir / "_slurm", slurm_queries)
    from slurmhpo.backends.local import LocalBackend

    return LocalBackend(runs_dir / "_local")
