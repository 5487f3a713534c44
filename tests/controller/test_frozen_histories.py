"""Today's schedulers must decide as the frozen histories say (see frozen_histories.py)."""

from __future__ import annotations

import json

import pytest

from slurmhpo.bench.harness import study_spec
from slurmhpo.bench.registry import get_task
from slurmhpo.scheduling.factory import make_scheduler
from slurmhpo.scheduling.history import event_from_dict, rebuild
from tests.controller.frozen_histories import (
    BUDGET_SECONDS,
    FROZEN_METHODS,
    MAX_TRIALS,
    SEED,
    TASK,
    WORKERS,
    frozen_file,
    method_of,
    record,
)


def _frozen(method_name: str) -> list[dict]:
    return json.loads(frozen_file(method_name).read_text())


@pytest.mark.parametrize("method_name", FROZEN_METHODS)
def test_stored_history_replays(method_name: str, tmp_path) -> None:
    """A running study's stored history rebuilds a scheduler without a ReplayMismatch."""
    history = _frozen(method_name)
    assert len(history) > MAX_TRIALS  # every trial started, and results came in
    task = get_task(TASK, r_max=27)
    spec = study_spec(task, method_of(method_name), SEED, WORKERS, BUDGET_SECONDS, tmp_path)
    spec_dict = spec.to_dict()
    scheduler = rebuild(
        lambda: make_scheduler(spec_dict, spec.space, spec.seed),
        [event_from_dict(row["payload"]) for row in history],
    )
    started = [row for row in history if row["kind"] in ("start", "exploit")]
    assert sorted(scheduler.trial_ids()) == sorted(
        row["payload"]["suggestion"]["trial_id"] for row in started
    )


@pytest.mark.parametrize("method_name", FROZEN_METHODS)
def test_same_study_decides_the_same(method_name: str) -> None:
    """The controller and scheduler of today decide exactly as the frozen run did."""
    assert record(method_name) == _frozen(method_name)


@pytest.mark.parametrize("method_name", FROZEN_METHODS)
def test_continuing_in_place_decides_the_same(method_name: str) -> None:
    """With no queue wait, handing segments to waiting jobs changes no decision."""
    assert record(method_name, continue_in_place=True) == _frozen(method_name)
