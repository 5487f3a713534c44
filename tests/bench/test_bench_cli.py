"""``slurmhpo bench`` end to end on a synthetic task: the real controller on simulated time."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from slurmhpo.bench.harness import simulate
from slurmhpo.bench.registry import get_task
from slurmhpo.bench.runner import DEFAULT_METHODS, METHODS
from slurmhpo.cli.main import main

TASK = "synthetic/hartmann3-mf"  # maximised, r_max 27, no data needed


@pytest.fixture(scope="module")
def bench_json(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "out.json"
    argv = ["bench", "--task", TASK, "--seeds", "1", "--budget-factor", "6", "--json", str(out)]
    assert main(argv) == 0
    return json.loads(out.read_text())


def test_the_json_has_every_run_and_aggregate(bench_json: dict[str, Any]) -> None:
    runs = bench_json["runs"]
    assert {(r["method"], r["seed"]) for r in runs} == {(m, 0) for m in DEFAULT_METHODS}
    budget = bench_json["budgets"][TASK]
    assert budget["source"] == "reference_budget" and budget["seconds"] > 0
    stats = bench_json["aggregates"][TASK]
    assert set(stats) == set(DEFAULT_METHODS)
    for method_stats in stats.values():
        for key in ("incumbent_0.25", "incumbent_0.5", "incumbent_1.0", "full_fidelity_at_B"):
            assert len(method_stats[key]) == 3
        assert method_stats["speedup_vs_random"]["available"] is True
    assert stats["random"]["speedup_vs_random"]["value"] == pytest.approx(1.0)


def test_incumbents_only_improve_and_work_is_sane(bench_json: dict[str, Any]) -> None:
    for run in bench_json["runs"]:
        values = [v for _, v in run["trace"]]
        times = [t for t, _ in run["trace"]]
        assert values == sorted(values), run["method"]  # maximised: never worse later
        assert times == sorted(times) and times[-1] <= run["budget_s"] + 1e-6
        at = [run["incumbent"][k] for k in ("0.25", "0.5", "1.0") if run["incumbent"][k]]
        assert at == sorted(at) and at[-1] == values[-1]
        full = run["full_fidelity_incumbent_at_B"]
        assert full is None or full <= values[-1]
        assert 0 < run["utilisation"] <= 1 + 1e-9
        assert run["trials"] >= 1 and run["epochs"] >= run["trials"]
        if METHODS[run["method"]].asynchronous:
            assert run["workers_used"] == 4 and run["peak_running"] == 4, run["method"]


def test_unknown_method_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--method", "nope", "--task", TASK]) == 2
    assert "unknown method" in capsys.readouterr().err


def test_the_same_seed_gives_the_same_run() -> None:
    task = get_task(TASK)
    first = simulate(task, METHODS["bohb-async"], 3, workers=4, budget=500.0)
    second = simulate(task, METHODS["bohb-async"], 3, workers=4, budget=500.0)
    other = simulate(task, METHODS["bohb-async"], 4, workers=4, budget=500.0)
    assert first.reports == second.reports and first.trials == second.trials
    assert first.reports != other.reports


@pytest.mark.parametrize("method", ["asha-stopping", "asha-promotion", "bohb-sync", "adaptive"])
def test_waking_only_at_rungs_changes_nothing(
    method: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The fast setting (the clock stops only where the scheduler can act) must reproduce
    the exact one (a controller cycle at every epoch end) report for report."""
    caplog.set_level(logging.ERROR, logger="slurmhpo.controller")  # restored after the test
    task = get_task(TASK)
    fast = simulate(task, METHODS[method], 1, workers=4, budget=400.0)
    exact = simulate(task, METHODS[method], 1, workers=4, budget=400.0, exact=True)
    assert fast.reports == exact.reports
    assert (fast.trials, fast.epochs) == (exact.trials, exact.epochs)
    assert fast.busy_seconds == pytest.approx(exact.busy_seconds)


@pytest.mark.parametrize("method", ["hyperband-from-max", "bohb-sync-from-max", "asha-promotion"])
def test_waking_only_at_rungs_changes_nothing_on_an_uneven_ladder(
    method: str, caplog: pytest.LogCaptureFixture
) -> None:
    """r_max = 20 is not 3^k: from_max rungs (2, 7, 20) and from_min rungs (1, 3, 9, 20)
    differ, and the simulated clock must stop at the method's own ones."""
    caplog.set_level(logging.ERROR, logger="slurmhpo.controller")
    task = get_task(TASK, r_max=20)
    fast = simulate(task, METHODS[method], 2, workers=4, budget=300.0)
    exact = simulate(task, METHODS[method], 2, workers=4, budget=300.0, exact=True)
    assert fast.reports == exact.reports
    assert (fast.trials, fast.epochs) == (exact.trials, exact.epochs)


def test_rung_methods_use_protocol_rungs_and_from_max_variants_the_hyperband_papers() -> None:
    """PROTOCOL.md's rungs 1, 3, 9, 27, 52 for every default rung method; the -from-max
    variants of Hyperband and BOHB use r_max * eta^-k (HpBandSter's 2, 6, 17, 52)."""
    hyperband_family = [
        "hyperband", "hyperband-stopping", "bohb-sync", "bohb-async", "bohb-async-stopping",
    ]  # fmt: skip
    for name in hyperband_family:
        assert METHODS[name].wake_resources(1, 52) == {1, 3, 9, 27, 52}, name
        assert METHODS[f"{name}-from-max"].wake_resources(1, 52) == {2, 6, 17, 52}, name
    for name in ("asha-stopping", "asha-promotion"):
        assert METHODS[name].wake_resources(1, 52) == {1, 3, 9, 27, 52}, name
    assert METHODS["median"].wake_resources(1, 52) is None
    assert METHODS["random"].wake_resources(1, 52) == frozenset()


def test_max_trials_ends_the_study_before_the_budget() -> None:
    task = get_task(TASK)
    run = simulate(task, METHODS["asha-promotion"], 0, workers=4, budget=1e7, max_trials=6)
    assert run.trials == 6
    assert max(r.time for r in run.reports) < 1e7
    assert run.utilisation < 0.01  # the workers idled once the six trials were done


def test_the_json_records_every_method_setting(bench_json: dict[str, Any], tmp_path) -> None:
    """Each method's entry holds every Method field, and resource.min per task."""
    methods = bench_json["config"]["methods"]
    assert methods["asha-promotion"]["min_resource"] is None
    assert methods["asha-promotion"]["resource_min"] == {TASK: 1}
    assert methods["asha-promotion"]["wake"] == "rungs"
    out = tmp_path / "rmin.json"
    argv = ["bench", "--task", TASK, "--method", "asha-promotion-rmin3", "--seeds", "1"]
    assert main([*argv, "--budget-factor", "2", "--json", str(out)]) == 0
    entry = json.loads(out.read_text())["config"]["methods"]["asha-promotion-rmin3"]
    assert entry["min_resource"] == 3 and entry["resource_min"] == {TASK: 3}
    assert entry["scheduler"] == dict(METHODS["asha-promotion-rmin3"].scheduler)
