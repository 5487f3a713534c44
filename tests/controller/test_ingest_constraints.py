"""Ingest judges each metric line against the study's outcome constraints.

Read through :func:`slurmhpo.controller.ingest.ingest` with a real scheduler and metric file:
the decision history records which results were infeasible (and only those), a line missing
a constrained metric is infeasible and said once per trial and metric.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from slurmhpo.controller.ingest import ingest
from slurmhpo.scheduling.factory import make_scheduler
from slurmhpo.scheduling.history import event_from_dict
from slurmhpo.scheduling.types import StartTrial
from slurmhpo.store.cycle import ActiveJob, CycleWrite
from slurmhpo.study import StudySpec
from tests.test_study import good_dict


def _spec(constraints: list[str]) -> StudySpec:
    data = {**good_dict(), "scheduler": {"type": "fifo"}, "resource": {"max": 9}}
    return StudySpec.from_dict({**data, "constraints": constraints} if constraints else data)


def _read(spec: StudySpec, lines: list[dict], tmp_path: Path) -> tuple[CycleWrite, set]:
    scheduler = make_scheduler(spec.to_dict(), spec.space, spec.seed)
    start = scheduler.suggest(0)
    assert isinstance(start, StartTrial)
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    job = ActiveJob(1, 1, 0, "42", "running", 0, 9, 0, str(path), 0, None, None)
    write, logged = CycleWrite(), set()
    ingest([job], {0: None}, scheduler, spec, write, logged)
    return write, logged


def test_results_breaking_a_constraint_are_recorded_infeasible(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lines = [
        {"epoch": 1, "val_loss": 0.9, "mem": 30},
        {"epoch": 2, "val_loss": 0.8, "mem": 45},
        {"epoch": 3, "val_loss": 0.7},
        {"epoch": 4, "val_loss": 0.6},
        {"epoch": 5, "val_loss": 0.5, "mem": 40},
    ]
    with caplog.at_level(logging.WARNING, logger="slurmhpo.controller"):
        write, logged = _read(_spec(["mem <= 40"]), lines, tmp_path)
    results = [event_from_dict(d.payload) for d in write.decisions]
    assert [(r.resource, r.feasible) for r in results] == [  # type: ignore[union-attr]
        (1, True), (2, False), (3, False), (4, False), (5, True),
    ]  # fmt: skip
    assert ["feasible" in d.payload for d in write.decisions] == [0, 1, 1, 1, 0]
    said = [r.message for r in caplog.records if "'mem'" in r.message]
    assert len(said) == 1 and "infeasible" in said[0]
    assert ("constraint", 0, "mem") in logged
    assert [o.report.metrics.get("mem") for o in write.observations] == [30, 45, None, None, 40]


def test_without_constraints_the_history_is_as_before(tmp_path: Path) -> None:
    write, logged = _read(_spec([]), [{"epoch": 1, "val_loss": 0.9}], tmp_path)
    (decision,) = write.decisions
    assert decision.payload == {
        "event": "result", "trial_id": 0, "resource": 1, "value": 0.9, "action": "continue",
    }  # fmt: skip
    assert logged == set()
