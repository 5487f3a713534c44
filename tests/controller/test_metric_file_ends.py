"""How a job's end meets its metric file: data still unread, a file deleted for good, a last
line never finished. Simulated backend, real controller and store (seconds)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from slurmhpo.controller.ingest import MAX_BYTES_PER_READ
from tests.controller.controller_helpers import load_rows
from tests.controller.sim_faults import R_MAX, SimStudy, sim_study


def _start_one_trial(study: SimStudy):
    controller = study.controller()
    controller.open()
    controller.cycle()  # submits trial 0
    job = load_rows(study.engine, study.spec.name)["jobs"][0]
    return controller, Path(job.metric_path)


def _run_job_to_its_end(study: SimStudy) -> None:
    """Let simulated time pass with no controller cycle until every job has ended."""
    while study.backend.inner.next_event() is not None:
        study.clock.sleep(0.0)


def test_a_job_is_judged_only_once_its_file_is_read_to_the_end(tmp_path: Path) -> None:
    """More than one read's worth of valid lines (here: 9 MiB of old epoch-0 lines before
    the real reports) and the job has ended: its end waits until everything is read, so the
    trial is not taken for one that 'exited before reaching its target' and retried."""
    study = sim_study(tmp_path, workers=1, max_trials=1)
    controller, metrics = _start_one_trial(study)
    line = json.dumps({"epoch": 0, "value": 1.0}) + "\n"
    metrics.parent.mkdir(parents=True, exist_ok=True)
    metrics.write_text(line * (MAX_BYTES_PER_READ // len(line) + 20_000))
    _run_job_to_its_end(study)
    study.run_to_end(controller)
    controller.close()
    rows = load_rows(study.engine, study.spec.name)
    assert [(job.attempt, job.state) for job in rows["jobs"]] == [(0, "completed")]
    assert [t.state for t in rows["trials"]] == ["completed"]
    assert sorted(o.resource for o in rows["observations"]) == list(range(1, R_MAX + 1))


def test_a_metric_file_deleted_for_good_is_reported_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    study = sim_study(tmp_path, workers=1, max_trials=1)
    controller, metrics = _start_one_trial(study)
    study.advance()
    controller.cycle()  # ids stored, first epochs read
    assert load_rows(study.engine, study.spec.name)["observations"]
    metrics.unlink()
    study.backend.inner.cancel(["sim-0"])  # and the job is gone with it
    with caplog.at_level(logging.WARNING, logger="slurmhpo.controller"):
        for _ in range(3):
            controller.cycle()
    gone = [r.getMessage() for r in caplog.records if "is gone (deleted after" in r.getMessage()]
    assert len(gone) == 1 and str(metrics) in gone[0]
    controller.close()


def test_a_job_that_ended_mid_line_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    study = sim_study(tmp_path, workers=1, max_trials=1)
    controller, metrics = _start_one_trial(study)
    _run_job_to_its_end(study)
    with open(metrics, "a") as fh:
        fh.write('{"epoch": 10, "va')  # killed mid-write after its last report
    with caplog.at_level(logging.WARNING, logger="slurmhpo.controller"):
        study.run_to_end(controller)
    controller.close()
    warned = [r.getMessage() for r in caplog.records if "unfinished last line" in r.getMessage()]
    assert len(warned) == 1 and "(17 bytes at the end of" in warned[0]
    rows = load_rows(study.engine, study.spec.name)
    assert [t.state for t in rows["trials"]] == ["completed"]
