"""A controller cycle reads once and writes at most once; an idle cycle does not write."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import event

from tests.controller.controller_helpers import load_rows
from tests.controller.sim_faults import SimStudy, sim_study


def _count_transactions(study: SimStudy) -> Counter[str]:
    """Counts every transaction begun on the study's engine, by kind (read / write)."""
    counts: Counter[str] = Counter()

    @event.listens_for(study.engine, "begin")
    def _begin(connection: Any) -> None:
        write = connection.get_execution_options().get("slurmhpo_write", False)
        counts["write" if write else "read"] += 1

    return counts


def test_every_cycle_reads_once_and_writes_at_most_once(tmp_path: Path) -> None:
    study = sim_study(tmp_path, method="asha-promotion", workers=3, max_trials=12)
    controller = study.controller()
    controller.open()
    counts = _count_transactions(study)
    per_cycle = []
    more = True
    while more:
        counts.clear()
        more = controller.cycle()
        per_cycle.append(dict(counts))
        study.advance()
    controller.close()
    assert load_rows(study.engine, study.spec.name)["study"].state == "finished"
    assert len(per_cycle) > 20
    assert all(c.get("read", 0) == 1 for c in per_cycle), per_cycle
    assert all(c.get("write", 0) <= 1 for c in per_cycle), per_cycle


def test_a_cycle_with_nothing_new_does_not_write(tmp_path: Path) -> None:
    study = sim_study(tmp_path)
    controller = study.controller()
    controller.open()
    controller.cycle()  # submits
    study.advance()
    controller.cycle()  # stores the ids and the first reports
    counts = _count_transactions(study)
    controller.cycle()  # the clock did not move: no report, no job change, lease fresh
    assert counts == {"read": 1}
    controller.close()
