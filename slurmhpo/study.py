"""Study files: load, validate and normalise a study (TOML or a Python dict).

A study file is checked completely before anything touches the database or Slurm: every
mistake raises one :class:`~slurmhpo.errors.ConfigError` naming the dotted field and what is
allowed (the CLI turns it into exit code 2). :meth:`StudySpec.to_dict` gives the normalised
form the store keeps, and :meth:`StudySpec.from_dict` reads it back with the same checks, so a
study in the database is always one that would load from a file.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from slurmhpo.constraints import Constraint, parse_constraints
from slurmhpo.errors import ConfigError
from slurmhpo.fields import TableReader, describe
from slurmhpo.sbatch_options import check_sbatch_extra
from slurmhpo.space import SearchSpace

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
BACKENDS = ("auto", "local", "slurm")
DEFAULT_HOLD_SECONDS = 60.0  # how long a job waits at a rung for the controller's answer
MAX_HOLD_SECONDS = 3600.0


@dataclass(frozen=True)
class Objective:
    """The metric to optimise, as named in the trial's reports, and its direction."""

    metric: str
    mode: Literal["min", "max"]


@dataclass(frozen=True)
class Resource:
    """The budget axis (e.g. epochs): trials report at integer levels ``min``..``max``."""

    name: str
    min: int
    max: int


@dataclass(frozen=True)
class Budget:
    """Limits on the whole study; it ends cleanly when any one of them is spent."""

    max_trials: int | None = None
    max_concurrent: int = 4
    max_gpu_hours: float | None = None
    max_wall_hours: float | None = None


@dataclass(frozen=True)
class TrialCommand:
    """How one trial segment runs: a command line, or a Python ``module:function``."""

    command: tuple[str, ...] | None = None
    entrypoint: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    workdir: str | None = None
    max_retries: int = 2
    # Continue a promoted trial in its running job instead of a new one (slurmhpo.control):
    # each job waits up to hold_seconds at its target rung for the controller's answer.
    continue_in_place: bool = False
    hold_seconds: float = DEFAULT_HOLD_SECONDS


@dataclass(frozen=True)
class SlurmOptions:
    """Slurm job parameters of each trial segment (used by the Slurm backend only)."""

    partition: str | None = None
    gpus_per_task: int = 1
    cpus_per_task: int = 1
    mem_gb: float | None = None
    time_min: int = 60
    account: str | None = None
    qos: str | None = None
    setup: tuple[str, ...] = ()
    extra: Mapping[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True)
class StudySpec:
    """A fully validated study. Build it with :func:`load_study` or :meth:`from_dict`."""

    name: str
    objective: Objective
    resource: Resource
    scheduler: Mapping[str, Any]
    searcher: Mapping[str, Any]
    budget: Budget
    trial: TrialCommand
    slurm: SlurmOptions
    space: SearchSpace
    initial_configs: tuple[Mapping[str, Any], ...] = ()
    seed: int = 0
    backend: str = "auto"
    runs_dir: str | None = None
    constraints: tuple[Constraint, ...] = ()
    # The second and later objectives of a study with several (``objective`` is the first).
    more_objectives: tuple[Objective, ...] = ()

    @property
    def objectives(self) -> tuple[Objective, ...]:
        """Every objective, in the study file's order (one for most studies)."""
        return (self.objective, *self.more_objectives)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudySpec:
        """Validate a study given as a dict (a parsed TOML file, or the Python API)."""
        return _parse_study(data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly normalised form; ``from_dict(spec.to_dict()) == spec``."""
        trial: dict[str, Any] = {"max_retries": self.trial.max_retries}
        if self.trial.command is not None:
            trial["command"] = list(self.trial.command)
        if self.trial.entrypoint is not None:
            trial["entrypoint"] = self.trial.entrypoint
        if self.trial.env:
            trial["env"] = dict(self.trial.env)
        if self.trial.workdir is not None:
            trial["workdir"] = self.trial.workdir
        # Only when set: the stored specs of studies from before these keys stay equal.
        if self.trial.continue_in_place:
            trial["continue_in_place"] = True
        if self.trial.hold_seconds != DEFAULT_HOLD_SECONDS:
            trial["hold_seconds"] = self.trial.hold_seconds
        return {
            "name": self.name,
            "seed": self.seed,
            "backend": self.backend,
            **({"runs_dir": self.runs_dir} if self.runs_dir is not None else {}),
            # One table as always; a list only when there are several, so the stored specs
            # of single-objective studies stay equal.
            "objective": (
                [{"metric": o.metric, "mode": o.mode} for o in self.objectives]
                if self.more_objectives
                else {"metric": self.objective.metric, "mode": self.objective.mode}
            ),
            **({"constraints": [c.text() for c in self.constraints]} if self.constraints else {}),
            "resource": {
                "name": self.resource.name,
                "min": self.resource.min,
                "max": self.resource.max,
            },
            "scheduler": dict(self.scheduler),
            **({"searcher": dict(self.searcher)} if self.searcher else {}),
            "budget": _drop_none(vars(self.budget)),
            "trial": trial,
            "slurm": _drop_none(
                {
                    **vars(self.slurm),
                    "setup": list(self.slurm.setup),
                    "extra": dict(self.slurm.extra),
                }
            ),
            "space": self.space.to_dict(),
            "initial_configs": [dict(c) for c in self.initial_configs],
        }


def load_study(path: str | Path) -> StudySpec:
    """Read and validate a TOML study file; unreadable or malformed files are ConfigErrors."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read the study file: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), "is not UTF-8 text") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"is not valid TOML: {exc}") from exc
    return StudySpec.from_dict(data)


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != {} and v != []}


def _parse_study(data: Mapping[str, Any]) -> StudySpec:
    top = TableReader(data, "")
    name = top.get("name", str, hint='e.g. name = "digits-mlp"')
    if not NAME_PATTERN.match(name):
        raise ConfigError(
            "name",
            f"{name!r} is not a valid study name",
            "use 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    objectives = _parse_objectives(
        top.get(
            "objective", (dict, list), hint='e.g. objective = {metric = "val_loss", mode = "min"}'
        )
    )
    resource = _parse_resource(top.get("resource", dict))
    space = SearchSpace.from_dict(top.get("space", dict), prefix="space")
    spec = StudySpec(
        name=name,
        objective=objectives[0],
        more_objectives=objectives[1:],
        resource=resource,
        scheduler=_parse_named_table(
            top.get("scheduler", dict, default={"type": "asha"}), "scheduler"
        ),
        searcher=_parse_searcher(top.get("searcher", dict, default={})),
        budget=_parse_budget(top.get("budget", dict)),
        trial=_parse_trial(top.get("trial", dict)),
        slurm=_parse_slurm(top.get("slurm", dict, default={})),
        space=space,
        initial_configs=_parse_initial_configs(top.get("initial_configs", list, default=[]), space),
        seed=top.get("seed", int, default=0),
        backend=top.choice("backend", BACKENDS, default="auto"),
        runs_dir=top.get("runs_dir", str, default=None),
        constraints=parse_constraints(
            top.get("constraints", list, default=[], hint='e.g. ["memory_gb <= 40"]'),
            resource_name=resource.name,
        ),
    )
    top.finish()
    _check_decision_tables(spec)
    _check_warm_start_names(spec)
    return spec


def _check_warm_start_names(spec: StudySpec) -> None:
    """``searcher.warm_start`` names studies (the decision core checked the rest)."""
    for i, name in enumerate(spec.searcher.get("warm_start", [])):
        field_name = f"searcher.warm_start[{i}]"
        if not NAME_PATTERN.match(name):
            raise ConfigError(field_name, f"{name!r} is not a valid study name")
        if name == spec.name:
            raise ConfigError(
                field_name, "is this study itself", "name an earlier study of the same task"
            )


def _check_decision_tables(spec: StudySpec) -> None:
    """Build the scheduler and searcher once, so their tables are checked key by key now.

    Their settings belong to the decision core, which validates them; doing it at load time
    means a typo in ``[scheduler]`` fails ``slurmhpo check`` and writes nothing.
    """
    from slurmhpo.scheduling.factory import make_scheduler  # the layer below; lazy import

    make_scheduler(spec.to_dict(), spec.space, spec.seed)


def _parse_objectives(value: Mapping[str, Any] | list[Any]) -> tuple[Objective, ...]:
    """``objective``: one table, or a list of tables (TOML ``[[objective]]``) for several
    objectives, each a different metric; the first is the one single-objective views show."""
    if isinstance(value, Mapping):
        return (_parse_objective(value, "objective"),)
    if not value:
        raise ConfigError(
            "objective", "is an empty list", "name at least one {metric = ..., mode = ...}"
        )
    objectives = tuple(_parse_objective(table, f"objective[{i}]") for i, table in enumerate(value))
    for i, objective in enumerate(objectives):
        if objective.metric in (o.metric for o in objectives[:i]):
            raise ConfigError(
                f"objective[{i}].metric",
                f"{objective.metric!r} is already an objective",
                "list each metric once",
            )
    return objectives


def _parse_objective(table: Mapping[str, Any], path: str) -> Objective:
    reader = TableReader(table, path)
    metric = reader.get("metric", str, hint='the key your trial reports, e.g. "val_loss"')
    if not metric:
        raise ConfigError(f"{path}.metric", "must not be empty")
    mode = reader.choice("mode", ("min", "max"))
    reader.finish()
    return Objective(metric=metric, mode=mode)  # type: ignore[arg-type]


def _parse_resource(table: Mapping[str, Any]) -> Resource:
    reader = TableReader(table, "resource")
    name = reader.get("name", str, default="epoch")
    low = reader.get("min", int, default=1)
    high = reader.get("max", int)
    reader.finish()
    if not name:
        raise ConfigError("resource.name", "must not be empty")
    if low < 1:
        raise ConfigError("resource.min", f"must be at least 1, got {low}")
    if low > high:
        raise ConfigError(
            "resource.min", f"({low}) is greater than resource.max ({high})", "min <= max"
        )
    return Resource(name=name, min=low, max=high)


def _parse_named_table(table: Mapping[str, Any], path: str) -> dict[str, Any]:
    """Scheduler and searcher tables: a ``type`` plus options the decision core validates."""
    reader = TableReader(table, path)
    reader.get("type", str)
    return dict(table)


def _parse_searcher(table: Mapping[str, Any]) -> dict[str, Any]:
    """The searcher table; its type may be left out (random, or kde under bohb)."""
    reader = TableReader(table, "searcher")
    reader.get("type", str, default=None)
    return dict(table)


def _parse_budget(table: Mapping[str, Any]) -> Budget:
    reader = TableReader(table, "budget")
    budget = Budget(
        max_trials=reader.positive("max_trials", int, default=None),
        max_concurrent=reader.positive("max_concurrent", int, default=4),
        max_gpu_hours=reader.positive("max_gpu_hours", float, default=None),
        max_wall_hours=reader.positive("max_wall_hours", float, default=None),
    )
    reader.finish()
    if budget.max_trials is None and budget.max_gpu_hours is None and budget.max_wall_hours is None:
        raise ConfigError(
            "budget",
            "has no limit, so the study would never end",
            "set at least one of max_trials, max_gpu_hours, max_wall_hours",
        )
    return budget


def _parse_trial(table: Mapping[str, Any]) -> TrialCommand:
    reader = TableReader(table, "trial")
    command = reader.get("command", list, default=None)
    entrypoint = reader.get("entrypoint", str, default=None)
    env = reader.get("env", dict, default={})
    workdir = reader.get("workdir", str, default=None)
    retries = reader.get("max_retries", int, default=2)
    in_place = reader.get("continue_in_place", bool, default=False)
    hold = reader.positive("hold_seconds", float, default=DEFAULT_HOLD_SECONDS)
    reader.finish()
    if (command is None) == (entrypoint is None):
        raise ConfigError(
            "trial",
            "needs exactly one of command or entrypoint",
            'e.g. command = ["python", "train.py"] or entrypoint = "mypkg.train:main"',
        )
    if command is not None:
        if not command or not all(isinstance(part, str) and part for part in command):
            raise ConfigError("trial.command", "must be a non-empty list of non-empty strings")
        command = tuple(command)
    if entrypoint is not None and not re.match(r"^[\w.]+:[\w.]+$", entrypoint):
        raise ConfigError("trial.entrypoint", f"{entrypoint!r} is not module:function")
    for key, value in env.items():
        if not isinstance(value, str):
            raise ConfigError(f"trial.env.{key}", f"must be a string, got {describe(value)}")
    if retries < 0:
        raise ConfigError("trial.max_retries", f"must be 0 or more, got {retries}")
    if hold > MAX_HOLD_SECONDS:
        raise ConfigError(
            "trial.hold_seconds",
            f"must be at most {MAX_HOLD_SECONDS:.0f}, got {hold!r}",
            "a job waiting at a rung holds its GPU; a few poll intervals are enough",
        )
    return TrialCommand(
        command=command,
        entrypoint=entrypoint,
        env=dict(env),
        workdir=workdir,
        max_retries=retries,
        continue_in_place=in_place,
        hold_seconds=hold,
    )


def _parse_slurm(table: Mapping[str, Any]) -> SlurmOptions:
    reader = TableReader(table, "slurm")
    setup = reader.get("setup", list, default=[])
    extra = reader.get("extra", dict, default={})
    options = SlurmOptions(
        partition=reader.get("partition", str, default=None),
        gpus_per_task=reader.get("gpus_per_task", int, default=1),
        cpus_per_task=reader.positive("cpus_per_task", int, default=1),
        mem_gb=reader.positive("mem_gb", float, default=None),
        time_min=reader.positive("time_min", int, default=60),
        account=reader.get("account", str, default=None),
        qos=reader.get("qos", str, default=None),
        setup=tuple(_strings(setup, "slurm.setup")),
        extra=check_sbatch_extra(extra),
    )
    reader.finish()
    if options.gpus_per_task < 0:
        raise ConfigError("slurm.gpus_per_task", f"must be 0 or more, got {options.gpus_per_task}")
    return options


def _strings(values: list[Any], path: str) -> list[str]:
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise ConfigError(f"{path}[{i}]", f"must be a string, got {describe(value)}")
    return list(values)


def _parse_initial_configs(values: list[Any], space: SearchSpace) -> tuple[dict[str, Any], ...]:
    configs = []
    for i, config in enumerate(values):
        if not isinstance(config, Mapping):
            raise ConfigError(f"initial_configs[{i}]", f"must be a table, got {describe(config)}")
        try:
            space.validate(config)
        except ConfigError as exc:
            field_name = exc.field.removeprefix("config.")
            raise ConfigError(f"initial_configs[{i}].{field_name}", exc.problem, exc.fix) from exc
        configs.append(dict(config))
    return tuple(configs)
