"""docs/study-file.md and the study-file validator must agree, field by field.

Forward: every documented field, set to its documented example, loads. Backward: every key of
a study's normalised form, and every setting each scheduler and searcher type accepts (as the
validator's own "known settings" list says), is documented.
"""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from slurmhpo.errors import ConfigError
from slurmhpo.scheduling.factory import SCHEDULER_TYPES
from slurmhpo.scheduling.searchers.factory import SEARCHER_TYPES
from slurmhpo.study import StudySpec

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "study-file.md"
ROW = re.compile(r"^\| `([a-z_.]+)` \|.*\| `(.+)` \|$")

BASE: dict[str, Any] = {
    "name": "ref",
    "objective": {"metric": "val_loss", "mode": "min"},
    "resource": {"max": 27},
    "scheduler": {"type": "asha"},
    "budget": {"max_trials": 10},
    "trial": {"command": ["python", "train.py"]},
    "space": {"lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True}},
}
# Fields that only make sense next to another setting.
CONTEXT: dict[str, dict[str, Any]] = {
    "scheduler.overlap": {"scheduler.type": "sync_sh"},
    "scheduler.grace": {"scheduler.type": "median"},
    "scheduler.min_trials": {"scheduler.type": "median"},
    **{
        f"scheduler.{key}": {"scheduler.type": "curve"}
        for key in ("threshold", "min_points", "interval")
    },
    "searcher.num_points": {"searcher.type": "grid"},
    "searcher.weight_power": {"searcher.type": "mf_kde"},
    "searcher.warm_start": {"searcher.type": "kde"},
    **{
        f"scheduler.{key}": {"scheduler.type": "adaptive"}
        for key in ("prior_agreement", "prior_pairs", "power", "min_top", "max_points")
    },
    **{
        f"scheduler.{key}": {"scheduler.type": "pbt", "scheduler.perturbation_interval": 4}
        for key in ("population_size", "quantile_fraction", "resample_probability")
    },
    "scheduler.perturbation_interval": {"scheduler.type": "pbt"},
    "trial.entrypoint": {"trial.command": None},
    "scheduler.tie_break": {"scheduler.type": "mo_asha"},
}
# Settings a scheduler type cannot be built without.
REQUIRED = {"pbt": {"perturbation_interval": 4}}
TWO_OBJECTIVES = [{"metric": "val_loss", "mode": "min"}, {"metric": "ms", "mode": "min"}]
MULTI_OBJECTIVE_ONLY = {"scheduler.type": "mo_asha", "searcher.type": "mo_kde"}
KDE_FIELDS = {
    "top_n_percent", "num_samples", "random_fraction", "bandwidth_factor", "min_bandwidth",
    "min_points", "max_model_points",
}  # fmt: skip


def documented() -> dict[str, Any]:
    """Dotted field -> example value, from the reference's tables."""
    fields = {}
    for line in REFERENCE.read_text().splitlines():
        match = ROW.match(line)
        if match:
            fields[match.group(1)] = tomllib.loads(f"v = {match.group(2)}")["v"]
    return fields


def with_field(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    *parents, last = dotted.split(".")
    table = data
    for key in parents:
        table = table.setdefault(key, {})
    if value is None:
        table.pop(last, None)
    else:
        table[last] = value
    return data


def test_the_reference_lists_fields() -> None:
    assert len(documented()) > 30


@pytest.mark.parametrize("field", sorted(documented()))
def test_every_documented_field_loads_with_its_example(field: str) -> None:
    data = BASE
    if field.startswith("searcher.") and field.split(".")[1] in KDE_FIELDS:
        data = with_field(data, "searcher.type", "kde")
    for dotted, value in CONTEXT.get(field, {}).items():
        data = with_field(data, dotted, value)
    data = with_field(data, field, documented()[field])
    if any(_get(data, k) == v for k, v in MULTI_OBJECTIVE_ONLY.items()):
        data = with_field(data, "objective", TWO_OBJECTIVES)
        data = with_field(data, "scheduler.type", "mo_asha")
    spec = StudySpec.from_dict(data)
    assert StudySpec.from_dict(spec.to_dict()) == spec


def test_every_key_of_a_normalised_study_is_documented() -> None:
    fields = documented()
    full = StudySpec.from_dict(
        {
            **BASE,
            "runs_dir": "runs",
            "initial_configs": [{"lr": 0.01}],
            "trial": {"command": ["python", "t.py"], "env": {"A": "1"}, "workdir": "."},
            "slurm": {
                "partition": "gpu",
                "mem_gb": 4,
                "account": "a",
                "qos": "q",
                "setup": ["true"],
                "extra": {"constraint": "x"},
            },
            "budget": {"max_trials": 3, "max_gpu_hours": 1, "max_wall_hours": 2},
        }
    ).to_dict()
    for key, value in full.items():
        if key in ("space", "scheduler", "searcher"):
            continue  # space has its own table; the decision tables are checked below
        if isinstance(value, dict) and key != "initial_configs":
            for sub in value:
                assert f"{key}.{sub}" in fields, f"{key}.{sub} is not in {REFERENCE.name}"
        else:
            assert key in fields, f"{key} is not in {REFERENCE.name}"


def _get(data: dict[str, Any], dotted: str) -> Any:
    table, _, key = dotted.partition(".")
    inner = data.get(table)
    return inner.get(key) if isinstance(inner, dict) else None


def known_settings(
    table: str, settings: dict[str, Any], searcher: dict[str, Any] | None = None
) -> set[str]:
    """The settings the validator accepts for this table, from its own error message."""
    data = with_field(BASE, "searcher", searcher) if searcher else BASE
    data = with_field(data, table, {**settings, "zz_unknown": 1})
    if settings.get("type") in ("mo_asha", "mo_kde"):  # they take several objectives only
        data = with_field(data, "objective", TWO_OBJECTIVES)
        if table == "searcher":
            data = with_field(data, "scheduler", {"type": "mo_asha"})
    with pytest.raises(ConfigError) as info:
        StudySpec.from_dict(data)
    assert info.value.field == f"{table}.zz_unknown"
    assert info.value.fix is not None
    return set(info.value.fix.removeprefix("known settings: ").split(", "))


@pytest.mark.parametrize("kind", SCHEDULER_TYPES)
def test_every_scheduler_setting_is_documented(kind: str) -> None:
    variants = ["sync", "promotion"] if kind == "bohb" else [None]
    fields = documented()
    for variant in variants:
        settings = {"type": kind, **REQUIRED.get(kind, {})}
        if variant is not None:
            settings["variant"] = variant
        searcher = {"type": "kde"} if kind == "bohb" else {"type": "random"}
        for name in known_settings("scheduler", settings, searcher):
            assert f"scheduler.{name}" in fields, f"scheduler.{name} ({kind}) is undocumented"


@pytest.mark.parametrize("kind", SEARCHER_TYPES)
def test_every_searcher_setting_is_documented(kind: str) -> None:
    fields = documented()
    for name in known_settings("searcher", {"type": kind}):
        assert f"searcher.{name}" in fields, f"searcher.{name} ({kind}) is undocumented"
