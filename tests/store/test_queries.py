"""Query layer contract, run on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from slurmhpo.errors import ConfigError, NotFoundError, StoreError
from slurmhpo.store import queries as q
from slurmhpo.store.db import make_engine, read_session, write_session
from slurmhpo.store.models import Job

SPEC = {"name": "s", "objective": {"metric": "loss", "mode": "min"}, "space": {"lr": [1e-4, 1]}}


def _study(engine: Engine, name: str = "s", mode: str = "min") -> None:
    with write_session(engine) as s:
        q.create_study(s, name, SPEC, "loss", mode)


def _trial_with(engine: Engine, study: str, values: dict[int, float], config: dict) -> int:
    """Add a trial with an observation per (resource -> value); returns its number."""
    with write_session(engine) as s:
        st = q.get_study(s, study)
        trial = q.add_trial(s, st, config)
        q.record_observations(s, trial, [q.Report(r, v, {"loss": v}) for r, v in values.items()])
        return trial.number


def test_create_get_list_studies(engine: Engine) -> None:
    _study(engine, "a")
    _study(engine, "b", mode="max")
    with read_session(engine) as s:
        study = q.get_study(s, "b")
        assert (study.name, study.mode, study.state, study.spec) == ("b", "max", "registered", SPEC)
        assert study.created_at.tzinfo is not None
        assert study.created_at.utcoffset().total_seconds() == 0
        assert [(st.name, n) for st, n in q.list_studies(s)] == [("a", 0), ("b", 0)]


def test_duplicate_study_name_is_refused_and_nothing_is_written(engine: Engine) -> None:
    _study(engine, "dup")
    with pytest.raises(StoreError, match="study 'dup' already exists"):
        _study(engine, "dup")
    with read_session(engine) as s:
        assert len(q.list_studies(s)) == 1


def test_unknown_study_and_trial(engine: Engine) -> None:
    _study(engine)
    with read_session(engine) as s:
        with pytest.raises(
            NotFoundError, match=r"study 'nope' not found \(see: slurmhpo studies\)"
        ):
            q.get_study(s, "nope")
        with pytest.raises(NotFoundError, match="trial 7 of study 's' not found"):
            q.get_trial(s, q.get_study(s, "s"), 7)


def test_bad_mode_is_a_config_error(engine: Engine) -> None:
    with pytest.raises(ConfigError, match=r"objective\.mode"):
        _study(engine, "m", mode="minimize")


def test_trial_numbers_and_duplicate_number(engine: Engine) -> None:
    _study(engine)
    with write_session(engine) as s:
        st = q.get_study(s, "s")
        numbers = [q.add_trial(s, st, {"lr": i}).number for i in range(3)]
    assert numbers == [0, 1, 2]
    with pytest.raises(StoreError, match="constraint"), write_session(engine) as s:
        q.add_trial(s, q.get_study(s, "s"), {}, number=1)


def test_observations_are_idempotent_and_keep_the_first_value(engine: Engine) -> None:
    _study(engine)
    number = _trial_with(engine, "s", {1: 0.5, 3: 0.4}, {"lr": 0.1})
    with write_session(engine) as s:
        trial = q.get_trial(s, q.get_study(s, "s"), number)
        again = q.record_observations(s, trial, [q.Report(3, 9.9), q.Report(9, 0.3)])
        assert again == 1
        assert trial.reached_resource == 9
    with write_session(engine) as s:  # an older resource never lowers reached_resource
        trial = q.get_trial(s, q.get_study(s, "s"), number)
        assert q.record_observations(s, trial, [q.Report(2, 0.45)]) == 1
    with read_session(engine) as s:
        trial = q.get_trial(s, q.get_study(s, "s"), number)
        obs = q.trial_observations(s, trial)
        assert [(o.resource, o.objective) for o in obs] == [(1, 0.5), (2, 0.45), (3, 0.4), (9, 0.3)]
        assert trial.reached_resource == 9


def test_nan_and_inf_round_trip_explicitly(engine: Engine) -> None:
    _study(engine)
    reported = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    with write_session(engine) as s:
        trial = q.add_trial(s, q.get_study(s, "s"), {"x": math.inf})
        reports = [
            q.Report(1, math.nan, {"loss": math.nan}, reported),
            q.Report(2, math.inf, {"loss": math.inf}),
            q.Report(3, -math.inf, {"loss": -math.inf}),
            q.Report(4, 0.25, {"loss": 0.25, "acc": 0.9}),
        ]
        q.record_observations(s, trial, reports)
    with read_session(engine) as s:
        trial = q.get_trial(s, q.get_study(s, "s"), 0)
        obs = q.trial_observations(s, trial)
        assert [o.value_kind for o in obs] == ["nan", "+inf", "-inf", "finite"]
        assert math.isnan(obs[0].objective)
        assert obs[1].objective == math.inf and obs[2].objective == -math.inf
        assert obs[0].metrics == {"loss": "NaN"} and obs[2].metrics == {"loss": "-Infinity"}
        assert obs[3].metrics == {"loss": 0.25, "acc": 0.9}
        assert obs[0].reported_at == reported
        assert trial.config == {"x": "Infinity"}


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("min", [2, 0, 1, 3, 4]), ("max", [1, 0, 2, 3, 4])],
)
def test_rung_is_sorted_best_first_with_nonfinite_last(
    engine: Engine, mode: str, expected: list[int]
) -> None:
    _study(engine, mode=mode)
    for value in (0.5, 0.9, 0.1, math.nan, math.inf):
        _trial_with(engine, "s", {1: value}, {})
    _trial_with(engine, "s", {3: 0.0}, {})  # another rung: not in rung 1
    with read_session(engine) as s:
        got = q.rung(s, q.get_study(s, "s"), 1)
    assert [n for n, _ in got] == expected
    assert got[0][1] == {"min": 0.1, "max": 0.9}[mode]


@pytest.mark.parametrize(("mode", "best"), [("min", 1), ("max", 2)])
def test_best_trial_respects_mode_and_resource(engine: Engine, mode: str, best: int) -> None:
    _study(engine, mode=mode)
    _trial_with(engine, "s", {1: -100.0}, {"n": 0})  # excellent, but only at resource 1
    _trial_with(engine, "s", {1: 0.5, 3: 0.2}, {"n": 1})
    _trial_with(engine, "s", {1: 0.6, 3: 0.7}, {"n": 2})
    _trial_with(engine, "s", {1: 0.6, 3: math.nan}, {"n": 3})
    with read_session(engine) as s:
        study = q.get_study(s, "s")
        found = q.best_trial(s, study)
        assert found is not None
        assert (found.trial.number, found.resource) == (best, 3)
        ranked = [t.trial.number for t in q.list_trials(s, study, sort="metric")]
        assert ranked[0] == best and ranked[2:] == [3, 0]
        assert [t.trial.number for t in q.list_trials(s, study, sort="metric", top=1)] == [best]


def test_best_trial_of_a_study_without_observations_is_none(engine: Engine) -> None:
    _study(engine)
    with write_session(engine) as s:
        q.add_trial(s, q.get_study(s, "s"), {})
    with read_session(engine) as s:
        assert q.best_trial(s, q.get_study(s, "s")) is None


def test_list_trials_filters_by_state(engine: Engine) -> None:
    _study(engine)
    for _ in range(3):
        _trial_with(engine, "s", {1: 1.0}, {})
    with write_session(engine) as s:
        q.get_trial(s, q.get_study(s, "s"), 1).state = "running"
    with read_session(engine) as s:
        study = q.get_study(s, "s")
        assert [t.trial.number for t in q.list_trials(s, study, state="running")] == [1]
        assert [t.trial.number for t in q.list_trials(s, study)] == [0, 1, 2]
        with pytest.raises(ConfigError, match="--state"):
            q.list_trials(s, study, state="zombie")


def test_decision_seq_is_per_study_and_gap_free(engine: Engine) -> None:
    _study(engine, "a")
    _study(engine, "b")
    with write_session(engine) as s:
        a, b = q.get_study(s, "a"), q.get_study(s, "b")
        trial = q.add_trial(s, a, {})
        seqs = [q.append_decision(s, a, "start", {"trial": 0}, trial=trial).seq for _ in range(3)]
        seqs.append(q.append_decision(s, b, "stop", {}, reason="rung 1").seq)
    assert seqs == [1, 2, 3, 1]
    with pytest.raises(ConfigError), write_session(engine) as s:
        q.append_decision(s, q.get_study(s, "a"), "explode", {})
    with write_session(engine) as s:  # the refused append did not consume a number
        assert q.append_decision(s, q.get_study(s, "a"), "pause", {"x": math.nan}).seq == 4
    with read_session(engine) as s:
        log = q.list_decisions(s, q.get_study(s, "a"), after_seq=2)
        assert [(d.seq, d.kind, d.payload) for d in log] == [
            (3, "start", {"trial": 0}),
            (4, "pause", {"x": "NaN"}),
        ]


def test_a_failed_write_block_leaves_nothing(engine: Engine) -> None:
    with pytest.raises(RuntimeError), write_session(engine) as s:
        q.create_study(s, "ghost", SPEC, "loss", "min")
        raise RuntimeError("boom")
    with read_session(engine) as s:
        assert q.list_studies(s) == []


def test_jobs_of_a_trial(engine: Engine) -> None:
    _study(engine)
    with write_session(engine) as s:
        trial = q.add_trial(s, q.get_study(s, "s"), {})
        for start, target, state in ((0, 3, "completed"), (3, 9, "running")):
            s.add(
                Job(
                    study_id=trial.study_id,
                    trial_id=trial.id,
                    backend="slurm",
                    external_id=f"12{start}",
                    start_resource=start,
                    target_resource=target,
                    state=state,
                )
            )
    with read_session(engine) as s:
        jobs = q.trial_jobs(s, q.get_trial(s, q.get_study(s, "s"), 0))
        assert [(j.external_id, j.state, j.metric_offset) for j in jobs] == [
            ("120", "completed", 0),
            ("123", "running", 0),
        ]


def test_record_observations_accepts_a_trial_from_an_earlier_session(engine: Engine) -> None:
    """The controller keeps trials across cycles; each cycle writes in a new session."""
    _study(engine)
    with write_session(engine) as s:
        trial = q.add_trial(s, q.get_study(s, "s"), {})
    with write_session(engine) as s:
        assert q.record_observations(s, trial, [q.Report(5, 0.1)]) == 1
    assert trial.reached_resource == 5
    with read_session(engine) as s:
        assert q.get_trial(s, q.get_study(s, "s"), 0).reached_resource == 5


def test_concurrent_decision_appends_get_distinct_gap_free_seqs(
    engine: Engine, db_url: str
) -> None:
    _study(engine)
    engines = [make_engine(db_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))
    seqs: list[int] = []
    errors: list[BaseException] = []

    def append_many(eng: Engine) -> None:
        barrier.wait()
        try:
            for _ in range(10):
                with write_session(eng) as s:
                    seqs.append(q.append_decision(s, q.get_study(s, "s"), "continue", {}).seq)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=append_many, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in engines:
        e.dispose()
    assert errors == []
    assert sorted(seqs) == list(range(1, 41))


def test_best_and_metric_order_skip_results_that_break_a_constraint(engine: Engine) -> None:
    """The incumbent is the best trial whose result at its highest resource meets the
    constraints; a missing constrained metric counts as breaking it."""
    spec = {**SPEC, "resource": {"name": "epoch"}, "constraints": ["mem <= 40.0"]}
    with write_session(engine) as s:
        st = q.create_study(s, "c", spec, "loss", "min")
        for loss, metrics in [(0.1, {"mem": 50.0}), (0.3, {"mem": 40.0}), (0.2, {}), (0.4, {})]:
            trial = q.add_trial(s, st, {"lr": loss})
            q.record_observations(s, trial, [q.Report(3, loss, {"loss": loss, **metrics})])
    with read_session(engine) as s:
        st = q.get_study(s, "c")
        best = q.best_trial(s, st)
        assert best is not None and (best.trial.number, best.value) == (1, 0.3)
        ranked = q.list_trials(s, st, sort="metric")
        assert [t.value for t in ranked] == [0.3, 0.1, 0.2, 0.4]
        assert [t.value for t in q.list_trials(s, st, sort="metric", top=2)] == [0.3, 0.1]
        assert [t.value for t in q.list_trials(s, st)] == [0.1, 0.3, 0.2, 0.4]


def test_no_feasible_result_means_no_incumbent(engine: Engine) -> None:
    spec = {**SPEC, "resource": {"name": "epoch"}, "constraints": ["mem <= 40.0"]}
    with write_session(engine) as s:
        st = q.create_study(s, "c", spec, "loss", "min")
        trial = q.add_trial(s, st, {"lr": 0.1})
        q.record_observations(s, trial, [q.Report(3, 0.1, {"loss": 0.1, "mem": 41.0})])
    with read_session(engine) as s:
        assert q.best_trial(s, q.get_study(s, "c")) is None


def test_the_anytime_incumbent_skips_results_that_break_a_constraint(engine: Engine) -> None:
    """The plots' and dashboard's incumbent series agrees with `best`: a better result that
    breaks a constraint never becomes the incumbent."""
    from slurmhpo.plots.data import load_study_data
    from slurmhpo.plots.series import incumbent
    from tests.test_study import good_dict

    spec = {**good_dict(), "name": "c", "constraints": ["mem <= 40.0"]}
    with write_session(engine) as s:
        st = q.create_study(s, "c", spec, "val_loss", "min")
        for loss, metrics in [(0.3, {"mem": 40.0}), (0.1, {"mem": 50.0}), (0.2, {"mem": 1.0})]:
            trial = q.add_trial(s, st, {"lr": loss})
            report = q.Report(3, loss, {"val_loss": loss, **metrics})
            q.record_observations(s, trial, [report])
    data = load_study_data(engine, "c")
    assert [p.feasible for p in data.observations] == [True, False, True]
    assert incumbent(data).values == [0.3, 0.2]  # 0.1 broke the constraint
