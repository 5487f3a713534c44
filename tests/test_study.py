"""Study files: every mistake is one ConfigError naming its field; good files round-trip."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from slurmhpo.errors import ConfigError
from slurmhpo.study import StudySpec, load_study

GOOD = """
name = "digits-mlp"
seed = 7
objective = { metric = "val_loss", mode = "min" }
resource = { name = "epoch", min = 1, max = 27 }
scheduler = { type = "asha", variant = "promotion", eta = 3 }
searcher = { type = "kde" }
budget = { max_trials = 60, max_concurrent = 4, max_gpu_hours = 10 }
initial_configs = [ { lr = 0.01, layers = 2, activation = "relu" } ]
[trial]
command = ["python", "train.py"]
[slurm]
partition = "gpu"
gpus_per_task = 1
cpus_per_task = 2
mem_gb = 8
time_min = 60
extra = { constraint = "a100" }
[space]
lr = { type = "float", low = 1e-4, high = 1e-1, log = true }
layers = { type = "int", low = 1, high = 4 }
activation = { type = "categorical", choices = ["relu", "tanh"] }
"""


def good_dict() -> dict[str, Any]:
    return {
        "name": "digits-mlp",
        "objective": {"metric": "val_loss", "mode": "min"},
        "resource": {"name": "epoch", "min": 1, "max": 27},
        "scheduler": {"type": "asha", "variant": "promotion", "eta": 3},
        "searcher": {"type": "random"},
        "budget": {"max_trials": 60},
        "trial": {"command": ["python", "train.py"]},
        "space": {"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}},
    }


def test_good_file_loads_with_every_field(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_text(GOOD)
    spec = load_study(path)
    assert spec.name == "digits-mlp"
    assert spec.seed == 7
    assert spec.objective.mode == "min"
    assert (spec.resource.min, spec.resource.max) == (1, 27)
    assert spec.budget.max_gpu_hours == 10.0
    assert spec.trial.command == ("python", "train.py")
    assert spec.slurm.mem_gb == 8.0
    assert spec.slurm.extra == {"constraint": "a100"}
    assert spec.space.names == ("lr", "layers", "activation")
    assert spec.initial_configs[0]["layers"] == 2


def test_round_trip_through_dict(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_text(GOOD)
    spec = load_study(path)
    assert StudySpec.from_dict(spec.to_dict()) == spec


def test_defaults_fill_in_the_optional_tables() -> None:
    spec = StudySpec.from_dict(good_dict())
    assert spec.budget.max_concurrent == 4
    assert spec.slurm.time_min == 60
    assert spec.backend == "auto"
    assert spec.trial.max_retries == 2


def mutate(path: str, value: Any) -> dict[str, Any]:
    """A copy of the good study with the dotted ``path`` set to ``value`` (``...`` deletes it)."""
    data = copy.deepcopy(good_dict())
    *parents, last = path.split(".")
    table = data
    for key in parents:
        table = table.setdefault(key, {})
    if value is ...:
        del table[last]
    else:
        table[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("nme", "x", "nme"),
        ("name", ..., "name"),
        ("name", "bad name/", "name"),
        ("name", 3, "name"),
        ("objective.mode", "minimise", "objective.mode"),
        ("objective.metric", ..., "objective.metric"),
        ("objective.extra", 1, "objective.extra"),
        ("resource.min", 30, "resource.min"),
        ("resource.min", 0, "resource.min"),
        ("resource.max", "27", "resource.max"),
        ("resource.max", 27.5, "resource.max"),
        ("budget.max_trials", 0, "budget.max_trials"),
        ("budget.max_trails", 10, "budget.max_trails"),
        ("budget.max_concurrent", True, "budget.max_concurrent"),
        ("budget", {}, "budget"),
        ("trial.command", ..., "trial"),
        ("trial.command", [], "trial.command"),
        ("trial.command", ["python", 3], "trial.command"),
        ("trial.entrypoint", "mod:fn", "trial"),
        ("trial.continue_in_place", "yes", "trial.continue_in_place"),
        ("trial.hold_seconds", 0, "trial.hold_seconds"),
        ("trial.hold_seconds", 7200, "trial.hold_seconds"),
        ("slurm.gpus_per_task", "one", "slurm.gpus_per_task"),
        ("slurm.time_min", 0, "slurm.time_min"),
        ("slurm.extra", {"partition": "x"}, "slurm.extra.partition"),
        ("slurm.extra", {"bad option!": "x"}, "slurm.extra.bad option!"),
        ("slurm.extra", {"comment": "a\nb"}, "slurm.extra.comment"),
        ("slurm.setup", ["module load cuda", 3], "slurm.setup[1]"),
        ("scheduler", {"eta": 3}, "scheduler.type"),
        ("scheduler", {"type": "asha", "etta": 3}, "scheduler.etta"),
        ("scheduler", {"type": "asha", "eta": 1}, "scheduler.eta"),
        ("scheduler", {"type": "hyperbnd"}, "scheduler.type"),
        ("searcher", {"type": "kde", "num_samples": 0}, "searcher.num_samples"),
        ("searcher", {"type": "tpe"}, "searcher.type"),
        ("backend", "kubernetes", "backend"),
        ("space.lr.low", 1.0, "space.lr"),
        ("space.lr.low", -1.0, "space.lr"),
        ("space", {}, "space"),
        ("initial_configs", [{"lr": 5.0}], "initial_configs[0].lr"),
        ("initial_configs", [{"lr": 0.01, "nope": 1}], "initial_configs[0].nope"),
        ("initial_configs", ["lr"], "initial_configs[0]"),
    ],
)
def test_each_mistake_names_its_field(path: str, value: Any, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        StudySpec.from_dict(mutate(path, value))
    assert info.value.field.startswith(field), str(info.value)
    assert info.value.exit_code == 2


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\nobjective = {')
    with pytest.raises(ConfigError) as info:
        load_study(path)
    assert str(path) in str(info.value)
    assert "TOML" in str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_study(tmp_path / "absent.toml")


def test_continue_in_place_round_trips_and_stays_out_of_older_specs() -> None:
    """Off by default and then absent from to_dict(), so the stored spec (and its digest) of
    a study registered before the option existed is unchanged."""
    plain = StudySpec.from_dict(good_dict())
    assert not plain.trial.continue_in_place
    assert "continue_in_place" not in plain.to_dict()["trial"]
    data = mutate("trial.continue_in_place", True)
    data["trial"]["hold_seconds"] = 90
    spec = StudySpec.from_dict(data)
    assert spec.trial.continue_in_place and spec.trial.hold_seconds == 90.0
    assert StudySpec.from_dict(spec.to_dict()) == spec
