"""Bad metric data never crashes the controller: each defect is logged once and skipped, and
the trial's valid reports around it are kept (local backend: same controller, faster).

tests/controller/malformed_trial.py writes the defects; see its docstring for the file's
story. Expected, per defect: half a line is read once whole (no problem); a half line ended
by a newline and a prose line are ``not_json``; a string loss is ``bad_metric`` (the line
stays, without the loss, so epoch 5 is stored as a missing value: NaN); a 2 MB line is
``too_long``; the truncated and the deleted file are each ``truncated`` (re-read from the
start; repeats are ignored). A NaN loss is no defect: the trial-side contract says diverged
metrics are written so, and the store keeps NaN explicitly.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from pathlib import Path

import pytest
from controller_helpers import engine_for, load_rows, study_toml

from slurmhpo.cli.main import main

SCRIPT = Path(__file__).with_name("malformed_trial.py")


def test_malformed_metric_lines_are_logged_once_and_skipped(
    tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="slurmhpo")
    # One FIFO trial of malformed_trial.py, never retried; seed 0 is the spec's default.
    path = study_toml(
        tmp_path,
        name="malformed",
        seed=0,
        scheduler={"type": "fifo"},
        budget={"max_trials": 1, "max_concurrent": 1},
        resource_max=8,
        max_retries=0,
        script=SCRIPT,
    )
    assert main(["run", str(path), "--db", db_url, "--poll-interval", "0.1", "-q"]) == 0

    rows = load_rows(engine_for(db_url), "malformed")
    assert rows["study"].state == "finished"
    (trial,) = rows["trials"]
    assert trial.state == "completed"
    (job,) = rows["jobs"]
    assert job.state == "completed"

    # Every valid report is kept, with its own value; the string loss became a missing value.
    values = {obs.resource: obs.objective for obs in rows["observations"]}
    assert sorted(values) == [1, 2, 3, 4, 5, 6, 7, 8]
    for epoch in (1, 2, 3, 6, 7, 8):
        assert values[epoch] == pytest.approx(1.0 / epoch)
    assert math.isnan(values[4]) and math.isnan(values[5])

    # Each defect logged exactly once (a repeat would show as a count of 2).
    skipped = [r.getMessage() for r in caplog.records if "skipped metric data" in r.getMessage()]
    kinds = Counter(re.search(r" of \S+ \((\w+): ", message).group(1) for message in skipped)
    assert kinds == {"not_json": 2, "bad_metric": 1, "too_long": 1, "truncated": 2}, skipped
    assert len(set(skipped)) == len(skipped)
