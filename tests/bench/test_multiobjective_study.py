"""A study with two objectives end to end: the real controller on the simulated backend with
the ZDT1 curve task, then the stored history replayed, ``best``, ``status --json`` and the
Pareto plot read from the same database."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from slurmhpo.backends.simulated import SimClock, SimulatedBackend
from slurmhpo.bench.harness import study_spec
from slurmhpo.bench.pareto_bench import PARETO_METHODS, hypervolume_until
from slurmhpo.bench.synthetic_mo import REFERENCE, TRUE_FRONT_HYPERVOLUME, ZDT1Task
from slurmhpo.cli.main import main
from slurmhpo.controller.build import build_controller
from slurmhpo.controller.studies import register_study
from slurmhpo.pareto import hypervolume_2d, pareto_mask, to_keys
from slurmhpo.scheduling.factory import make_scheduler
from slurmhpo.scheduling.history import Result, event_from_dict, rebuild
from slurmhpo.store.db import make_engine, read_session
from slurmhpo.store.queries import get_study, list_decisions
from slurmhpo.study import StudySpec

BUDGET = 900.0  # simulated seconds: a few dozen trials


@pytest.fixture(scope="module")
def study_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, StudySpec, ZDT1Task]:
    root = tmp_path_factory.mktemp("mo")
    url = f"sqlite:///{root / 'mo.db'}"
    assert main(["--db", url, "db", "upgrade"]) == 0  # the CLI reads only a migrated DB
    engine = make_engine(url)
    task = ZDT1Task(r_max=9)
    spec = study_spec(task, PARETO_METHODS["mo-asha-mo-kde"], 1, 4, BUDGET, root, name="zdt")
    spec = register_study(engine, spec)
    clock = SimClock(deadline=BUDGET)
    backend = SimulatedBackend(task, clock, 4, None)
    build_controller(
        engine, "zdt", backend=backend, poll_interval=0.0, lease_ttl=86_400.0, clock=clock
    ).run()
    engine.dispose()
    return url, spec, task


def test_the_history_records_both_objectives_and_replays(study_db) -> None:  # type: ignore[no-untyped-def]
    url, spec, _ = study_db
    engine = make_engine(url)
    with read_session(engine) as session:
        payloads = [d.payload for d in list_decisions(session, get_study(session, "zdt"))]
    engine.dispose()
    events = [event_from_dict(p) for p in payloads]
    results = [e for e in events if isinstance(e, Result)]
    assert len(results) > 20
    assert all(r.values is not None and len(r.values) == 2 for r in results)
    assert all(r.values[0] == r.value for r in results)  # type: ignore[index]
    again = rebuild(lambda: make_scheduler(spec.to_dict(), spec.space, spec.seed), events)
    assert any(rows for rungs in again.rung_table().values() for rows in rungs.values())


def test_best_lists_the_non_dominated_trials(study_db, capsys) -> None:  # type: ignore[no-untyped-def]
    url, _, task = study_db
    assert main(["--db", url, "best", "zdt", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["objectives"] == [{"metric": "f1", "mode": "min"}, {"metric": "f2", "mode": "min"}]
    front = out["pareto_front"]
    assert front, "the study trained some trials to r_max"
    assert {m["resource"] for m in front} == {task.r_max}
    points = np.array([[m["values"]["f1"], m["values"]["f2"]] for m in front])
    assert pareto_mask(to_keys(points.tolist(), ["min", "min"])).all()  # none dominates another
    finals = task.final_objectives([m["config"] for m in front])  # last epoch = true values
    assert np.allclose(points, finals)
    assert main(["--db", url, "best", "zdt"]) == 0
    text = capsys.readouterr().out
    assert "Pareto front of 'zdt'" in text and "F1 (MIN)" in text


def test_status_json_has_the_pareto_front(study_db, capsys) -> None:  # type: ignore[no-untyped-def]
    url, _, _ = study_db
    assert main(["--db", url, "status", "zdt", "--json"]) == 0
    detail = json.loads(capsys.readouterr().out)["study"]
    assert [o["metric"] for o in detail["objectives"]] == ["f1", "f2"]
    assert detail["pareto_front"] and {"trial", "resource", "values", "config"} <= set(
        detail["pareto_front"][0]
    )
    assert main(["--db", url, "best", "zdt", "--json"]) == 0
    best = json.loads(capsys.readouterr().out)
    assert [m["number"] for m in best["pareto_front"]] == [
        m["trial"] for m in detail["pareto_front"]
    ]
    assert main(["--db", url, "status", "zdt"]) == 0
    assert "Pareto front of f1 (min), f2 (min)" in capsys.readouterr().out


def test_pareto_plot(study_db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from slurmhpo.plots.pareto import plot_pareto

    url, _, _ = study_db
    engine = make_engine(url)
    series = plot_pareto(engine, "zdt", tmp_path / "front.png")
    engine.dispose()
    assert (tmp_path / "front.png").stat().st_size > 1000
    assert sum(series.on_front) == len(series.front()) >= 1
    assert (
        main(["--db", url, "plot", "zdt", "--kind", "pareto", "-o", str(tmp_path / "p.png")]) == 0
    )


def test_zdt1_task_last_epoch_is_the_true_objectives_and_reports_f2() -> None:
    task = ZDT1Task(r_max=9)
    config = {"x1": 0.25, "x2": 0.0, "x3": 0.0}  # on the true front: f2 = 1 - sqrt(0.25)
    assert task.evaluate(config, [9]).metric.tolist() == [0.25]
    extra = task.extra_metrics(config, [1, 9])
    assert extra["f2"][-1] == pytest.approx(0.5)
    assert extra["f_mean"][-1] == pytest.approx((0.25 + 0.5 / 3) / 2)
    assert extra["f2"][0] > 0.5  # early epochs look worse
    assert task.final_objectives([config]).tolist() == [[0.25, 0.5]]


def test_the_true_fronts_hypervolume_matches_the_closed_form() -> None:
    f1 = np.linspace(0.0, 1.0, 20_001)
    dense = np.stack([f1, 1.0 - np.sqrt(f1)], axis=1)
    assert hypervolume_2d(dense, REFERENCE) == pytest.approx(TRUE_FRONT_HYPERVOLUME, abs=1e-3)


def test_hypervolume_counts_only_full_fidelity_results_reported_in_time() -> None:
    from slurmhpo.bench.harness import Report, RunResult

    def report(t: float, resource: int, f1: float, f2: float) -> Report:
        return Report(t, 0, resource, f1, metrics={"f1": f1, "f2": f2})

    reports = (report(1.0, 9, 0.5, 1.0), report(2.0, 3, 0.0, 0.0), report(5.0, 9, 0.1, 2.0))
    result = RunResult("t", "m", 0, "min", 9, 10.0, 4, reports, 2, 0, 0.0, 0, 0, 0.0)
    assert hypervolume_until(result, 3.0, 9) == pytest.approx((1.1 - 0.5) * (3.1 - 1.0))
    both = (1.1 - 0.1) * (3.1 - 2.0) + (1.1 - 0.5) * (2.0 - 1.0)
    assert hypervolume_until(result, 10.0, 9) == pytest.approx(both)
