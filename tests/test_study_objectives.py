"""Several objectives in a study file: ``[[objective]]``, checks that name the field, and
single-objective specs that stay exactly as they were."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from test_study import good_dict

from slurmhpo.cli.main import main
from slurmhpo.errors import ConfigError
from slurmhpo.study import Objective, StudySpec, load_study

TWO = """
name = "mlp-two"
resource = { name = "epoch", min = 1, max = 27 }
scheduler = { type = "mo_asha", tie_break = "epsnet" }
searcher = { type = "mo_kde" }
budget = { max_trials = 20 }
[[objective]]
metric = "val_loss"
mode = "min"
[[objective]]
metric = "throughput"
mode = "max"
[trial]
command = ["python", "train.py"]
[space]
lr = { type = "float", low = 1e-4, high = 1e-1, log = true }
"""


def two_objectives(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(good_dict())
    data["objective"] = [
        {"metric": "val_loss", "mode": "min"},
        {"metric": "latency_ms", "mode": "min"},
    ]
    data["scheduler"] = {"type": "mo_asha"}
    data.update(changes)
    return data


def test_objective_list_loads_from_toml_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_text(TWO)
    spec = load_study(path)
    assert spec.objectives == (Objective("val_loss", "min"), Objective("throughput", "max"))
    assert spec.objective == Objective("val_loss", "min")  # single-objective views use it
    assert spec.to_dict()["objective"] == [
        {"metric": "val_loss", "mode": "min"},
        {"metric": "throughput", "mode": "max"},
    ]
    assert StudySpec.from_dict(spec.to_dict()) == spec


def test_a_single_objective_spec_is_stored_exactly_as_before() -> None:
    spec = StudySpec.from_dict(good_dict())
    assert spec.objectives == (spec.objective,)
    assert spec.to_dict()["objective"] == {"metric": "val_loss", "mode": "min"}
    assert "more_objectives" not in spec.to_dict()
    # a list of one is the same study as the table
    listed = StudySpec.from_dict({**good_dict(), "objective": [good_dict()["objective"]]})
    assert listed == spec


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"objective": []}, "objective"),
        ({"objective": "val_loss"}, "objective"),
        ({"objective": [{"metric": "a", "mode": "min"}, {"metric": "a", "mode": "max"}]},
         "objective[1].metric"),
        ({"objective": [{"metric": "a", "mode": "min"}, {"metric": "b", "mode": "up"}]},
         "objective[1].mode"),
        ({"objective": [{"metric": "a", "mode": "min"}, {"mode": "min"}]}, "objective[1].metric"),
        ({"objective": [{"metric": "a", "mode": "min"}, "b"]}, "objective[1]"),
        ({"scheduler": {"type": "asha"}}, "scheduler.type"),
        ({"scheduler": {"type": "bohb"}}, "scheduler.type"),
        ({"scheduler": {"type": "mo_asha", "tie_break": "random"}}, "scheduler.tie_break"),
        ({"scheduler": {"type": "mo_asha", "brackets": 2}}, "scheduler.brackets"),
        ({"searcher": {"type": "kde"}}, "searcher.type"),
        ({"searcher": {"type": "mf_kde"}}, "searcher.type"),
        ({"searcher": {"type": "mo_kde", "num_samples": 0}}, "searcher.num_samples"),
    ],
)  # fmt: skip
def test_each_mistake_names_its_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        StudySpec.from_dict(two_objectives(**changes))
    assert info.value.field == field, str(info.value)
    assert info.value.exit_code == 2


@pytest.mark.parametrize("table", [{"scheduler": {"type": "mo_asha"}},
                                   {"searcher": {"type": "mo_kde"}}])  # fmt: skip
def test_multi_objective_methods_refuse_a_single_objective(table: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        StudySpec.from_dict({**good_dict(), **table})
    assert info.value.field.endswith(".type")
    assert "two or more objectives" in info.value.problem


def test_fifo_and_random_search_take_several_objectives() -> None:
    spec = StudySpec.from_dict(two_objectives(scheduler={"type": "fifo"}))
    assert len(spec.objectives) == 2


def test_check_exits_2_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "study.toml"
    path.write_text(TWO.replace('type = "mo_asha", tie_break = "epsnet"', 'type = "asha"'))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "scheduler.type" in err and "mo_asha" in err
    path.write_text(TWO)
    assert main(["check", str(path)]) == 0
