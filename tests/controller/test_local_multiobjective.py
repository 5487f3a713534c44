"""A two-objective MO-ASHA study end to end on local processes: run, replay, best."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from controller_helpers import engine_for, study_toml

from slurmhpo.cli.main import main
from slurmhpo.scheduling.factory import make_scheduler
from slurmhpo.scheduling.history import Result, event_from_dict, rebuild
from slurmhpo.store.db import read_session
from slurmhpo.store.queries import get_study, list_decisions
from slurmhpo.study import StudySpec

SCRIPT = Path(__file__).with_name("two_objective_trial.py")
OBJECTIVES = """[[objective]]
metric = "loss"
mode = "min"
[[objective]]
metric = "size"
mode = "min"
"""


def test_mo_asha_study_runs_replays_and_lists_its_front(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = study_toml(tmp_path, scheduler={"type": "mo_asha", "eta": 3}, script=SCRIPT)
    text = path.read_text().replace('objective = { metric = "loss", mode = "min" }\n', "")
    path.write_text(text.replace("[trial]\n", OBJECTIVES + "[trial]\n", 1))
    assert main(["run", str(path), "--db", db_url, "--poll-interval", "0.1"]) == 0
    assert "finished; Pareto front:" in capsys.readouterr().out

    engine = engine_for(db_url)
    with read_session(engine) as session:
        study = get_study(session, "toy")
        spec = StudySpec.from_dict(study.spec)
        events = [event_from_dict(d.payload) for d in list_decisions(session, study)]
    engine.dispose()
    assert study.state == "finished" and len(spec.objectives) == 2
    results = [e for e in events if isinstance(e, Result)]
    assert results and all(r.values is not None and len(r.values) == 2 for r in results)
    rebuild(lambda: make_scheduler(spec.to_dict(), spec.space, spec.seed), events)

    assert main(["best", "toy", "--db", db_url, "--json"]) == 0
    front = json.loads(capsys.readouterr().out)["pareto_front"]
    assert front and all(m["resource"] == 9 for m in front)
    for m in front:  # the values are the trial's own report at epoch 9
        x = m["config"]["x"]
        assert m["values"]["loss"] == pytest.approx((x - 0.3) ** 2 + 1.0 / 9)
        assert m["values"]["size"] == pytest.approx((1.0 - x) + 0.5 / 9)
    by_x = sorted(m["config"]["x"] for m in front)
    losses = [(x - 0.3) ** 2 for x in by_x]
    # non-dominated along x: right of 0.3 size falls and loss rises, so no member beats another
    assert all(x >= 0.3 for x in by_x[1:]) and losses[1:] == sorted(losses[1:])
