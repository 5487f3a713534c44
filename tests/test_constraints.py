"""Outcome constraints: the study-file syntax, its errors, and when a metric line is feasible."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from slurmhpo.cli.main import main
from slurmhpo.constraints import Constraint, feasible, missing_metrics, parse_constraints
from slurmhpo.errors import ConfigError
from slurmhpo.study import StudySpec
from tests.test_study import good_dict


def test_the_four_operators_parse_and_normalise() -> None:
    parsed = parse_constraints(
        ["memory_gb <= 40", "lat_ms<2e1", "acc >= .5", "gpu/util > -1"], resource_name="epoch"
    )
    assert parsed == (
        Constraint("memory_gb", "<=", 40.0),
        Constraint("lat_ms", "<", 20.0),
        Constraint("acc", ">=", 0.5),
        Constraint("gpu/util", ">", -1.0),
    )
    assert [c.text() for c in parsed] == [
        "memory_gb <= 40.0",
        "lat_ms < 20.0",
        "acc >= 0.5",
        "gpu/util > -1.0",
    ]


def test_study_round_trips_with_constraints_and_omits_the_key_without() -> None:
    spec = StudySpec.from_dict({**good_dict(), "constraints": ["memory_gb <= 40"]})
    assert spec.constraints == (Constraint("memory_gb", "<=", 40.0),)
    assert spec.to_dict()["constraints"] == ["memory_gb <= 40.0"]
    assert StudySpec.from_dict(spec.to_dict()) == spec
    assert "constraints" not in StudySpec.from_dict(good_dict()).to_dict()


@pytest.mark.parametrize(
    ("value", "field", "words"),
    [
        ("memory_gb <= 40", "constraints", "must be a list"),
        ([40], "constraints[0]", "must be a string"),
        (["memory_gb =< 40"], "constraints[0]", "is not a constraint"),
        (["memory_gb == 40"], "constraints[0]", "is not a constraint"),
        (["40 >= memory_gb"], "constraints[0]", "is not a constraint"),
        (["memory_gb <= forty"], "constraints[0]", "is not a constraint"),
        (["a <= 1", "memory_gb <= 1e999"], "constraints[1]", "not a finite number"),
        (["epoch <= 10"], "constraints[0]", "is the resource"),
        (["time <= 10"], "constraints[0]", "timestamp"),
        (["m <= 1", "m <= 1.0"], "constraints[1]", "repeats"),
    ],
)
def test_bad_constraints_name_the_field_and_the_fix(value: object, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        StudySpec.from_dict({**good_dict(), "constraints": value})
    assert info.value.field == field and words in info.value.problem
    assert info.value.exit_code == 2 and info.value.fix


def test_check_exits_2_naming_the_constraint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "study.toml"
    path.write_text(
        'name = "c"\nconstraints = ["memory_gb => 40"]\n'
        'objective = { metric = "loss", mode = "min" }\nresource = { max = 9 }\n'
        'budget = { max_trials = 3 }\n[trial]\ncommand = ["python", "t.py"]\n'
        '[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n'
    )
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "constraints[0]" in err and "memory_gb <= 40" in err


@pytest.mark.parametrize(
    ("metrics", "ok"),
    [
        ({"memory_gb": 40, "loss": 0.1}, True),
        ({"memory_gb": 40.5}, False),
        ({"loss": 0.1}, False),  # missing: infeasible
        ({"memory_gb": math.nan}, False),
        ({"memory_gb": math.inf}, False),
        ({"memory_gb": "NaN"}, False),  # how the store keeps a NaN in JSON
        ({"memory_gb": True}, False),
    ],
)
def test_a_line_is_feasible_only_with_a_finite_value_inside_the_bound(
    metrics: dict, ok: bool
) -> None:
    constraints = parse_constraints(["memory_gb <= 40"], resource_name="epoch")
    assert feasible(constraints, metrics) is ok
    assert (missing_metrics(constraints, metrics) == ["memory_gb"]) is (
        metrics != {"memory_gb": 40.5} and not ok
    )


def test_missing_metrics_names_each_absent_or_unusable_metric_once() -> None:
    constraints = parse_constraints(
        ["mem <= 4", "mem >= 1", "lat < 2", "acc > 0"], resource_name="epoch"
    )
    assert missing_metrics(constraints, {"mem": 2.0, "lat": math.nan}) == ["lat", "acc"]
    assert missing_metrics(constraints, {"acc": 1, "lat": 1}) == ["mem"]
    assert feasible((), {}) is True
