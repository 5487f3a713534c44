"""Each plot of a finished local study: a valid PNG, and the series drawn match the database."""

from __future__ import annotations

import math
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from slurmhpo.cli.cmd_status import study_levels as status_levels
from slurmhpo.plots import draw, plot_study
from slurmhpo.plots.data import load_study_data
from slurmhpo.plots.figure import PlotUnavailable, pyplot
from slurmhpo.plots.series import CATEGORIES, study_levels
from slurmhpo.scheduling.rungs import rung_levels
from slurmhpo.store.db import make_engine, read_session
from slurmhpo.store.queries import get_study, list_decisions, study_observations

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _db_view(db_url: str, name: str) -> dict:
    """Observations {trial: {resource: value}}, trial states and resume counts, from the DB."""
    engine = make_engine(db_url, readonly=True)
    try:
        with read_session(engine) as session:
            study = get_study(session, name)
            observed: dict[int, dict[int, float]] = defaultdict(dict)
            for trial, obs in study_observations(session, study):
                observed[trial.number][obs.resource] = obs.objective
            states = {t.number: t.state for t in study.trials}
            number_of = {t.id: t.number for t in study.trials}
            resumes: dict[int, int] = defaultdict(int)
            for d in list_decisions(session, study):
                if d.kind == "resume":
                    resumes[number_of[d.trial_id]] += 1
    finally:
        engine.dispose()
    return {"observed": dict(observed), "states": states, "resumes": dict(resumes)}


def _plot(db_url: str, name: str, kind: str, path: Path):
    engine = make_engine(db_url, readonly=True)
    try:
        return plot_study(engine, name, kind, path)
    finally:
        engine.dispose()


def _is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 1000


def test_anytime_incumbent_is_monotone_and_ends_at_the_best_value(finished_study, tmp_path):
    db_url, name = finished_study
    series = _plot(db_url, name, "anytime", tmp_path / "anytime.png")
    assert _is_png(tmp_path / "anytime.png")
    view = _db_view(db_url, name)
    values = [v for by_r in view["observed"].values() for v in by_r.values() if math.isfinite(v)]
    assert series.values[-1] == min(values)  # the study minimises the toy loss
    assert all(b < a for a, b in zip(series.values, series.values[1:], strict=False))
    assert series.seconds == sorted(series.seconds) and series.seconds[0] >= 0
    assert series.gpu_hours == sorted(series.gpu_hours) and series.gpu_hours[-1] > 0
    best_trial = series.trials[-1]
    assert min(view["observed"][best_trial].values()) == series.values[-1]


def test_curves_match_the_observations_and_mark_the_rungs(finished_study, tmp_path):
    db_url, name = finished_study
    series = _plot(db_url, name, "curves", tmp_path / "curves.png")
    assert _is_png(tmp_path / "curves.png")
    view = _db_view(db_url, name)
    drawn = {c.trial: dict(zip(c.resources, c.values, strict=True)) for c in series.curves}
    assert drawn == view["observed"]
    assert series.rung_levels == rung_levels(1, 9, 3) == [1, 3, 9]
    by_trial = {c.trial: c.category for c in series.curves}
    assert set(by_trial.values()) <= set(CATEGORIES)
    for trial, cat in by_trial.items():
        state, resumed = view["states"][trial], view["resumes"].get(trial, 0)
        if state == "completed":
            assert cat == "completed"
        elif state == "paused":
            assert cat == ("promoted" if resumed else "paused")
    # ASHA (promotion) paused some trials at rung 1 and promoted others
    assert {"paused", "completed"} <= set(by_trial.values())
    assert any(view["resumes"].values())


def test_rung_occupancy_ends_at_the_rung_sizes(finished_study, tmp_path):
    db_url, name = finished_study
    series = _plot(db_url, name, "rungs", tmp_path / "rungs.png")
    assert _is_png(tmp_path / "rungs.png")
    view = _db_view(db_url, name)
    assert series.kind == "rungs" and series.levels == [1, 3, 9]
    for level in series.levels:
        reached = [t for t, by_r in view["observed"].items() if level in by_r]
        assert len(series.reached_at[level]) == len(reached)
        assert series.reached_at[level] == sorted(series.reached_at[level])
    assert len(series.reached_at[1]) == 12  # every trial reached the first rung
    assert len(series.reached_at[1]) > len(series.reached_at[3]) >= len(series.reached_at[9])


def test_levels_agree_with_status(finished_study):
    db_url, name = finished_study
    engine = make_engine(db_url, readonly=True)
    try:
        data = load_study_data(engine, name)
    finally:
        engine.dispose()
    assert study_levels(data) == status_levels(data.spec)


def test_cli_writes_a_png_and_refuses_an_unknown_study(finished_study, tmp_path):
    db_url, name = finished_study
    out = tmp_path / "cli.png"
    cli = [sys.executable, "-m", "slurmhpo.cli.main", "plot"]
    done = subprocess.run(
        [*cli, name, "--kind", "curves", "-o", str(out), "--db", db_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert _is_png(out)
    missing = subprocess.run(
        [*cli, "nope", "-o", str(tmp_path / "x.png"), "--db", db_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert missing.returncode == 1 and "not found" in missing.stderr
    assert not (tmp_path / "x.png").exists()


def test_missing_matplotlib_names_the_extra(monkeypatch, finished_study, tmp_path):
    db_url, name = finished_study
    engine = make_engine(db_url, readonly=True)
    try:
        data = load_study_data(engine, name)
    finally:
        engine.dispose()
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(PlotUnavailable, match=r'pip install "slurmhpo\[plot\]"'):
        pyplot()
    with pytest.raises(PlotUnavailable):
        draw(data, "rungs", tmp_path / "never.png")
    assert not (tmp_path / "never.png").exists()
