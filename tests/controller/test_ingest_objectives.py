"""Ingest hands every objective of a metric line to the scheduler and records them in the
decision history, only in studies with several objectives."""

from __future__ import annotations

import json
import math
from pathlib import Path

from slurmhpo.controller.ingest import ingest
from slurmhpo.scheduling.factory import make_scheduler
from slurmhpo.scheduling.history import Result, event_from_dict
from slurmhpo.scheduling.types import StartTrial
from slurmhpo.store.cycle import ActiveJob, CycleWrite
from slurmhpo.study import StudySpec
from tests.test_study import good_dict


def _spec() -> StudySpec:
    data = {
        **good_dict(),
        "objective": [{"metric": "val_loss", "mode": "min"}, {"metric": "ms", "mode": "min"}],
        "scheduler": {"type": "mo_asha", "eta": 3},
        "resource": {"max": 9},
    }
    return StudySpec.from_dict(data)


def test_each_result_carries_every_objective_missing_ones_as_none(tmp_path: Path) -> None:
    spec = _spec()
    scheduler = make_scheduler(spec.to_dict(), spec.space, spec.seed)
    start = scheduler.suggest(0)
    assert isinstance(start, StartTrial) and start.target == 1
    path = tmp_path / "metrics.jsonl"
    lines = [{"epoch": 1, "val_loss": 0.9}]  # "ms" forgotten: ranks as the worst
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    job = ActiveJob(1, 1, 0, "42", "running", 0, 1, 0, str(path), 0, None, None)
    write = CycleWrite()
    ingest([job], {0: None}, scheduler, spec, write, set())
    (decision,) = write.decisions
    assert decision.payload["values"] == [0.9, None]
    event = event_from_dict(decision.payload)
    assert isinstance(event, Result) and event.values == (0.9, None)
    assert event.value == 0.9  # the first objective stays the observation's value
    assert write.observations[0].report.value == 0.9


def test_nan_objectives_survive_the_history_wire() -> None:
    event = Result(3, 9, 0.5, None, True, (0.5, math.nan))
    again = event_from_dict(json.loads(json.dumps(event.to_dict())))
    assert isinstance(again, Result) and again.values is not None
    assert again.values[0] == 0.5 and math.isnan(again.values[1])  # type: ignore[arg-type]
