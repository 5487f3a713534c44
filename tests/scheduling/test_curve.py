"""The learning-curve stopping rule: the forecast on its own, the rule by hand, its settings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sched_helpers import FakeSearcher

from slurmhpo.cli.main import main
from slurmhpo.controller.ingest import ingest
from slurmhpo.errors import ConfigError
from slurmhpo.scheduling.curve import CurveStoppingScheduler
from slurmhpo.scheduling.curves import MAX_POINTS, beat_probability, thin
from slurmhpo.scheduling.factory import make_scheduler
from slurmhpo.scheduling.types import Action, Mode
from slurmhpo.store.cycle import ActiveJob, CycleWrite
from slurmhpo.study import StudySpec
from tests.test_study import good_dict

R = np.arange(1, 13)
RISING = 90.0 - 20.0 * R**-0.7 + np.random.default_rng(0).normal(0.0, 0.3, R.size)  # -> ~88.9


# ---- the forecast ----------------------------------------------------------------------------
def test_a_curve_heading_above_the_incumbent_is_likely_to_beat_it() -> None:
    assert beat_probability(R, RISING, 52, 85.0).probability > 0.9  # type: ignore[operator]


def test_a_curve_heading_well_below_the_incumbent_is_unlikely_to_beat_it() -> None:
    forecast = beat_probability(R, RISING, 52, 95.0)
    assert forecast.probability is not None and forecast.probability < 0.01
    assert forecast.mean is not None and 87.0 < forecast.mean < 91.0
    assert sum(forecast.weights.values()) == pytest.approx(1.0, abs=0.01)


def test_flat_curves_extrapolate_flat() -> None:
    """A constant curve (a diverged run at chance level) predicts its constant, exactly."""
    flat = np.full(R.size, 50.0)
    assert beat_probability(R, flat, 52, 88.0).probability == 0.0
    assert beat_probability(R, flat, 52, 40.0).probability == 1.0


def test_short_curves_give_no_forecast_and_say_why() -> None:
    forecast = beat_probability([1, 2], [0.3, 0.4], 52, 0.9)
    assert forecast.probability is None and "2 finite reports" in forecast.reason


def test_three_points_are_judged_by_the_two_parameter_family_only() -> None:
    forecast = beat_probability([1, 2, 3], [0.1, 0.2, 0.25], 52, 0.9)
    assert forecast.probability is not None
    assert list(forecast.weights) == ["logarithm"]


def test_noisy_curves_give_a_probability_and_the_same_one_every_time() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        scores = 70.0 + rng.normal(0.0, 5.0, 30)
        first = beat_probability(np.arange(1, 31), scores, 52, 75.0)
        assert first.probability is not None and 0.0 <= first.probability <= 1.0
        assert beat_probability(np.arange(1, 31), scores, 52, 75.0) == first


def test_long_curves_are_thinned_with_both_ends_kept() -> None:
    r = np.arange(1, 1001)
    kept_r, kept_s = thin(r, -1.0 / r)
    assert kept_r.size <= MAX_POINTS and kept_r[0] == 1 and kept_r[-1] == 1000
    assert np.all(np.diff(kept_r) > 0) and np.array_equal(kept_s, -1.0 / kept_r)
    assert beat_probability(r, 1.0 - 1.0 / r, 1000, 2.0).probability is not None


# ---- the rule, by hand -----------------------------------------------------------------------
def curve(mode: Mode = "max", **kwargs) -> CurveStoppingScheduler:  # type: ignore[no-untyped-def]
    return CurveStoppingScheduler(
        FakeSearcher(np.random.default_rng(0)), mode, 1, 20, np.random.default_rng(1), **kwargs
    )


def complete(sched: CurveStoppingScheduler, trial: int, final: float) -> None:
    sched.suggest(trial)
    for r in range(1, 20):
        assert sched.on_result(trial, r, final) is Action.CONTINUE  # nobody has finished yet
    assert sched.on_result(trial, 20, final) is Action.COMPLETE


def test_no_stop_before_an_incumbent_exists_or_before_min_points() -> None:
    sched = curve(min_points=5)
    sched.suggest(0)
    assert sched.on_result(0, 1, 0.1) is Action.CONTINUE
    assert sched.decision_reason(0) == "1 reports < min_points"
    for r in range(2, 6):
        assert sched.on_result(0, r, 0.1) is Action.CONTINUE
    assert sched.decision_reason(0) == "no trial has reached r_max yet"
    assert sched.incumbent is None


def test_a_flat_poor_trial_is_stopped_a_rising_good_one_continues() -> None:
    sched = curve(min_points=5)
    complete(sched, 0, 0.8)
    assert sched.incumbent == 0.8
    sched.suggest(1)
    for r in range(1, 5):
        assert sched.on_result(1, r, 0.3) is Action.CONTINUE  # fewer than 5 reports
    assert sched.on_result(1, 5, 0.3) is Action.STOP
    reason = sched.decision_reason(1)
    assert reason is not None and reason.startswith("P(beat 0.8 at r_max) = 0") and "<" in reason
    sched.suggest(2)
    for r in range(1, 12):
        assert sched.on_result(2, r, 0.9 - 0.5 * r**-1.0) is Action.CONTINUE
    assert "P(beat 0.8 at r_max) = 1" in (sched.decision_reason(2) or "")
    assert sched.on_result(2, 20, 0.88) is Action.COMPLETE
    assert sched.incumbent == 0.88


def test_min_mode_ranks_smaller_as_better() -> None:
    sched = curve("min", min_points=3)
    complete(sched, 0, 0.2)
    sched.suggest(1)
    actions = [sched.on_result(1, r, 0.9) for r in (1, 2, 3)]
    assert actions == [Action.CONTINUE, Action.CONTINUE, Action.STOP]
    assert "P(beat 0.2 at r_max)" in (sched.decision_reason(1) or "")
    sched.suggest(2)
    assert [sched.on_result(2, r, 0.19 - 0.01 * r) for r in (1, 2, 3)] == [Action.CONTINUE] * 3


def test_only_judged_resources_may_stop() -> None:
    """interval 4 from r_min 1: judged at 1, 5, 9, ...; a hopeless trial goes on until 5."""
    sched = curve(min_points=3, interval=4)
    complete(sched, 0, 0.8)
    sched.suggest(1)
    assert [sched.on_result(1, r, 0.1) for r in range(1, 6)] == [Action.CONTINUE] * 4 + [
        Action.STOP
    ]
    assert [r for r in range(1, 21) if sched.judged(r)] == [1, 5, 9, 13, 17]


def test_a_bad_latest_value_stops_once_judged() -> None:
    sched = curve(min_points=3)
    complete(sched, 0, 0.8)
    sched.suggest(1)
    assert sched.on_result(1, 1, 0.85) is Action.CONTINUE
    assert sched.on_result(1, 2, 0.86) is Action.CONTINUE
    assert sched.on_result(1, 3, float("nan")) is Action.STOP
    assert "bad" in (sched.decision_reason(1) or "")


def test_a_bad_value_at_r_max_is_no_incumbent() -> None:
    sched = curve(min_points=3)
    sched.suggest(0)
    assert sched.on_result(0, 20, None) is Action.COMPLETE
    assert sched.incumbent is None


# ---- settings from the study file ------------------------------------------------------------
def study(scheduler: dict) -> dict:
    return {
        "objective": {"metric": "acc", "mode": "max"},
        "resource": {"name": "epoch", "min": 2, "max": 27},
        "scheduler": scheduler,
    }


def test_the_study_file_settings_reach_the_scheduler() -> None:
    from slurmhpo.space import SearchSpace

    space = SearchSpace.from_dict({"lr": {"type": "float", "low": 0.1, "high": 1.0}})
    table = {"type": "curve", "threshold": 0.1, "min_points": 4, "interval": 3}
    sched = make_scheduler(study(table), space, seed=0)
    assert isinstance(sched, CurveStoppingScheduler)
    assert (sched.threshold, sched.min_points, sched.interval) == (0.1, 4, 3)
    assert [r for r in range(1, 28) if sched.judged(r)][:3] == [2, 5, 8]
    default = make_scheduler(study({"type": "curve"}), space, seed=0)
    assert (default.threshold, default.min_points, default.interval) == (0.05, 5, 1)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("setting", "field"),
    [
        ("threshold = 0.0", "scheduler.threshold"),
        ("threshold = 1.5", "scheduler.threshold"),
        ('threshold = "low"', "scheduler.threshold"),
        ("min_points = 2", "scheduler.min_points"),
        ("min_points = 4.5", "scheduler.min_points"),
        ("interval = 0", "scheduler.interval"),
        ("grace = 3", "scheduler.grace"),
    ],
)
def test_a_bad_setting_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, field: str
) -> None:
    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "digits_mlp.toml"
    lines = [
        f'scheduler = {{ type = "curve", {setting} }}' if line.startswith("scheduler = ") else line
        for line in example.read_text().splitlines()
    ]
    bad = tmp_path / "bad.toml"
    bad.write_text("\n".join(lines) + "\n")
    assert main(["check", str(bad)]) == 2
    assert f"slurmhpo: error: {field}" in capsys.readouterr().err
    good = bad.with_name("good.toml")
    good.write_text(bad.read_text().replace(setting, "threshold = 0.1"))
    assert main(["check", str(good)]) == 0


def test_the_error_says_how_to_fix_it() -> None:
    from slurmhpo.space import SearchSpace

    space = SearchSpace.from_dict({"lr": {"type": "float", "low": 0.1, "high": 1.0}})
    with pytest.raises(ConfigError, match=r"use 0\.05"):
        make_scheduler(study({"type": "curve", "threshold": 1}), space, seed=0)


# ---- the controller stores why ---------------------------------------------------------------
def test_ingest_stores_the_reason_of_each_judged_decision(tmp_path: Path) -> None:
    data = {**good_dict(), "scheduler": {"type": "curve", "min_points": 3}}
    spec = StudySpec.from_dict({**data, "resource": {"max": 9}})
    sched = make_scheduler(spec.to_dict(), spec.space, spec.seed)
    sched.suggest(0)
    for r in range(1, 10):
        sched.on_result(0, r, 0.1)  # val_loss, minimised: the incumbent is 0.1
    sched.suggest(1)
    path = tmp_path / "metrics.jsonl"
    lines = [{"epoch": r, "val_loss": 0.9} for r in (1, 2, 3)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    job = ActiveJob(2, 1, 1, "43", "running", 0, 9, 0, str(path), 0, None, None)
    write = CycleWrite()
    ingest([job], {1: None}, sched, spec, write, set())
    assert [d.kind for d in write.decisions] == ["continue", "continue", "stop"]
    reasons = [d.reason or "" for d in write.decisions]
    assert reasons[0] == "1 reports < min_points"
    assert reasons[2].startswith("P(beat 0.1 at r_max) = 0")
