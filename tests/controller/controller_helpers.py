"""Helpers for controller tests: study files for the toy trial, and reading back a study."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from slurmhpo.store.db import make_engine, read_session, write_session
from slurmhpo.store.models import Job, Observation, Study, Trial

TOY = Path(__file__).with_name("toy_trial.py")


def toml_value(value: Any) -> str:
    """TOML for the simple values study files hold (JSON's syntax coincides for these)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


def study_toml(
    tmp_path: Path,
    *,
    name: str = "toy",
    seed: int = 3,
    scheduler: dict[str, Any] | None = None,
    budget: dict[str, Any] | None = None,
    resource_max: int = 9,
    backend: str = "local",
    extra_space: dict[str, Any] | None = None,
    slurm: dict[str, Any] | None = None,
    max_retries: int = 2,
    script: Path = TOY,
    env: dict[str, str] | None = None,
    initial_configs: list[dict[str, Any]] | None = None,
    trial_options: dict[str, Any] | None = None,
) -> Path:
    """A study over ``script`` (the toy trial unless told), files under ``tmp_path``;
    ``trial_options`` are more keys of the [trial] table.

    The one writer of study files for every test suite (tests/slurm, tests/handover, ...
    wrap it with their own defaults), so a change to the study format is made once.
    ``slurm`` is the [slurm] table as written (the table is empty when None).
    """
    space = {"x": {"type": "float", "low": 0.0, "high": 1.0}, **(extra_space or {})}
    lines = [
        f'name = "{name}"',
        f"seed = {seed}",
        f'backend = "{backend}"',
        f"runs_dir = {toml_value(str(tmp_path / 'runs'))}",
        'objective = { metric = "loss", mode = "min" }',
        f'resource = {{ name = "epoch", min = 1, max = {resource_max} }}',
        "scheduler = "
        + toml_value(scheduler or {"type": "asha", "variant": "promotion", "eta": 3}),
        'searcher = { type = "random" }',
        *([f"initial_configs = {toml_value(initial_configs)}"] if initial_configs else []),
        "budget = " + toml_value(budget or {"max_trials": 12, "max_concurrent": 3}),
        "[trial]",
        f"command = {toml_value([sys.executable, str(script)])}",
        f"workdir = {toml_value(str(tmp_path))}",
        f"max_retries = {max_retries}",
        *([f"env = {toml_value(env)}"] if env else []),
        *(f"{key} = {toml_value(value)}" for key, value in (trial_options or {}).items()),
        "[slurm]",
        *(f"{key} = {toml_value(value)}" for key, value in (slurm or {}).items()),
        "[space]",
        *(f"{key} = {toml_value(value)}" for key, value in space.items()),
    ]
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def load_rows(engine: Engine, name: str) -> dict[str, Any]:
    """The study's trials, jobs and observations as plain lists (for assertions)."""
    with read_session(engine) as session:
        study = session.scalar(select(Study).where(Study.name == name))
        assert study is not None
        trials = list(session.scalars(select(Trial).where(Trial.study_id == study.id)))
        jobs = list(session.scalars(select(Job).where(Job.study_id == study.id).order_by(Job.id)))
        observations = list(
            session.scalars(select(Observation).where(Observation.study_id == study.id))
        )
    return {"study": study, "trials": trials, "jobs": jobs, "observations": observations}


def engine_for(url: str) -> Engine:
    return make_engine(url)


def tamper_spec(url: str, name: str, change: dict[str, dict[str, Any]]) -> None:
    """Change tables of the stored study ``name`` in place, as anyone who can write the
    database could (e.g. ``{"slurm": {"setup": ["..."]}}``)."""
    with write_session(engine_for(url)) as session:
        study = session.scalar(select(Study).where(Study.name == name))
        assert study is not None
        spec = dict(study.spec)
        for table, values in change.items():
            spec[table] = {**spec.get(table, {}), **values}
        study.spec = spec
