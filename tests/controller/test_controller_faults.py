"""Fast controller tests of cluster faults on the simulated backend (seconds, no Slurm)."""

from __future__ import annotations

from pathlib import Path

import pytest

from slurmhpo.backends.base import JobState
from slurmhpo.errors import BackendUnavailable, ConfigError, SlurmhpoError
from slurmhpo.store import leases
from slurmhpo.store.commands import add_command
from slurmhpo.store.db import write_session
from slurmhpo.store.queries import get_study
from tests.controller.controller_helpers import load_rows
from tests.controller.sim_faults import sim_study


def _jobs_of(rows: dict, number: int) -> list:
    trial = next(t for t in rows["trials"] if t.number == number)
    return [job for job in rows["jobs"] if job.trial_id == trial.id]


def test_a_job_lost_by_the_backend_is_retried_from_its_checkpoint(tmp_path: Path) -> None:
    study = sim_study(tmp_path, max_trials=3)
    controller = study.controller(lost_after=30.0)
    controller.open()
    controller.cycle()  # submits trials 0 and 1
    study.clock.sleep(0.0)
    controller.cycle()  # stores their external ids
    lost = load_rows(study.engine, study.spec.name)["jobs"][0].external_id
    assert lost is not None
    study.backend.inner.cancel([lost])  # the job vanishes: no more reports...
    study.backend.hidden.add(lost)  # ...and the backend no longer knows it
    hidden_at = study.clock.now()
    while study.clock.now() < hidden_at + 30.0:
        assert controller.cycle()
        study.clock.sleep(0.0)
    controller.cycle()
    rows = load_rows(study.engine, study.spec.name)
    first, retry = _jobs_of(rows, 0)[:2]
    assert first.state == "lost"
    assert "disappeared from the backend" in (first.exit_reason or "")
    assert retry.attempt == 1
    assert retry.start_resource == (
        next(t for t in rows["trials"] if t.number == 0).reached_resource or 0
    )
    study.run_to_end(controller)
    controller.close()
    rows = load_rows(study.engine, study.spec.name)
    assert rows["study"].state == "finished"
    assert sorted(t.state for t in rows["trials"]) == ["completed"] * 3
    observed = sorted((o.trial_id, o.resource) for o in rows["observations"])
    assert len(observed) == len(set(observed)) == 3 * 9  # every epoch once, none twice


def test_three_failed_submissions_in_a_row_stop_the_drive(tmp_path: Path) -> None:
    study = sim_study(tmp_path)
    study.backend.submit_errors = [SlurmhpoError("sbatch: error: slurmctld not responding")] * 3
    controller = study.controller()
    controller.open()
    assert controller.cycle()  # first failure: warned, retried next cycle
    assert controller.cycle()  # second
    with pytest.raises(SlurmhpoError, match="could not submit jobs 3 times in a row"):
        controller.cycle()
    rows = load_rows(study.engine, study.spec.name)
    assert [job.state for job in rows["jobs"]] == ["pending", "pending"]  # nothing lost
    assert study.backend.submit_calls == 3


def test_submissions_that_fail_twice_then_work_lose_nothing(tmp_path: Path) -> None:
    study = sim_study(tmp_path)
    study.backend.submit_errors = [SlurmhpoError("sbatch: error: try later"), OSError("fork")]
    controller = study.controller()
    controller.open()
    study.run_to_end(controller)
    controller.close()
    rows = load_rows(study.engine, study.spec.name)
    assert rows["study"].state == "finished"
    assert len(rows["jobs"]) == 4  # one job per trial: the failed submissions made no rows
    assert all(job.state == "completed" for job in rows["jobs"])


def test_submissions_while_the_backend_is_unreachable_are_waited_out(tmp_path: Path) -> None:
    """slurmctld down for longer than three cycles: sbatch cannot reach it. That is not the
    configuration error that three failures in a row stand for; the jobs wait as pending
    rows, each attempt after a failed one first looks for them by key, and nothing is
    submitted twice."""
    study = sim_study(tmp_path)
    down = BackendUnavailable("sbatch: error: Unable to contact slurm controller")
    study.backend.submit_errors = [down] * 5
    controller = study.controller()
    controller.open()
    study.run_to_end(controller)
    controller.close()
    rows = load_rows(study.engine, study.spec.name)
    assert rows["study"].state == "finished"
    assert study.backend.submit_calls >= 6  # five failures, then the ones that worked
    assert len(rows["jobs"]) == 4  # one job per trial
    assert all(job.state == "completed" for job in rows["jobs"])


def test_a_configuration_error_at_submit_is_not_retried(tmp_path: Path) -> None:
    study = sim_study(tmp_path)
    study.backend.submit_errors = [ConfigError("slurm.partition", "no partition 'gpux'")]
    controller = study.controller()
    controller.open()
    with pytest.raises(ConfigError, match=r"slurm\.partition: no partition 'gpux'"):
        controller.cycle()
    assert study.backend.submit_calls == 1


def test_a_restarted_controller_adopts_jobs_whose_ids_were_not_stored(tmp_path: Path) -> None:
    study = sim_study(tmp_path)
    first = study.controller()
    first.open()
    first.cycle()  # stores two pending rows, then submits them: their ids are in memory only
    submitted = study.backend.inner.stats.jobs
    assert submitted == 2
    # kill -9 here: nothing more is written; the lease is released as if it had expired
    study_id = load_rows(study.engine, study.spec.name)["study"].id
    with write_session(study.engine) as session:
        leases.release_lease(session, study_id, first.owner)
    assert all(job.external_id is None for job in load_rows(study.engine, study.spec.name)["jobs"])
    second = study.controller()
    second.open()
    second.cycle()  # finds both jobs by their keys
    second.cycle()  # stores their ids
    rows = load_rows(study.engine, study.spec.name)
    assert sorted(job.external_id for job in rows["jobs"]) == ["sim-0", "sim-1"]
    assert study.backend.inner.stats.jobs == submitted  # adopted, not submitted again
    study.run_to_end(second)
    second.close()
    rows = load_rows(study.engine, study.spec.name)
    assert rows["study"].state == "finished"
    assert study.backend.inner.stats.jobs == len(rows["jobs"]) == 4


def test_a_budget_cancel_settled_after_a_restart_stops_the_trials(tmp_path: Path) -> None:
    """The jobs a spent budget cancelled end their trials stopped, not failed, even when a
    new controller process (after Ctrl-C or a hand-over) is the one that sees them end."""
    study = sim_study(tmp_path, budget_seconds=30.0)  # an epoch costs ~5-8 s: trials run on
    first = study.controller()
    first.open()
    while study.backend.inner.stats.jobs < 2 or study.clock.now() < 30.0:
        assert first.cycle()
        study.clock.sleep(0.0)
    first.cycle()  # the budget is spent: both running jobs are cancelled
    assert study.backend.inner.has_news()  # cancelled, not yet seen ended by anybody
    first.close()  # Ctrl-C
    second = study.controller()
    second.open()
    study.run_to_end(second)
    second.close()
    rows = load_rows(study.engine, study.spec.name)
    assert rows["study"].state == "finished"
    assert sorted(job.state for job in rows["jobs"]) == ["cancelled", "cancelled"]
    assert sorted(t.state for t in rows["trials"]) == ["stopped", "stopped"]
    assert all("max_wall_hours budget is spent" in (t.failure_reason or "") for t in rows["trials"])


def test_a_cancel_while_the_backend_is_unreachable_is_made_later(tmp_path: Path) -> None:
    """slurmctld down when a trial must be stopped: scancel cannot reach it. The controller
    stays up, keeps the cancel on its list, makes it once the backend answers, and the
    trials end stopped (not failed); nothing is cancelled twice."""
    study = sim_study(tmp_path, budget_seconds=30.0)
    unreachable = BackendUnavailable("scancel: Unable to contact slurm controller")
    study.backend.cancel_errors = [unreachable, unreachable]
    controller = study.controller()
    controller.open()
    while study.backend.cancel_calls < 3:  # two failed cancels, then the one that works
        assert controller.cycle()
        study.advance()
    assert study.backend.inner.has_news()  # cancelled now, and only now
    study.run_to_end(controller)
    controller.close()
    rows = load_rows(study.engine, study.spec.name)
    assert rows["study"].state == "finished"
    assert sorted(job.state for job in rows["jobs"]) == ["cancelled", "cancelled"]
    assert sorted(t.state for t in rows["trials"]) == ["stopped", "stopped"]
    assert study.backend.cancel_calls == 3


def test_a_study_cancelled_while_the_backend_is_unreachable_ends_once_scancel_works(
    tmp_path: Path,
) -> None:
    """`slurmhpo cancel` while slurmctld is down: the controller stays up, the command stays
    pending, and the study ends cancelled only once scancel has reached the jobs."""
    study = sim_study(tmp_path, max_trials=8)
    controller = study.controller()
    controller.open()
    while study.backend.inner.stats.jobs < 2:
        assert controller.cycle()
        study.advance()
    with write_session(study.engine) as session:
        add_command(session, get_study(session, study.spec.name), "cancel", {})
    unreachable = BackendUnavailable("scancel: Unable to contact slurm controller")
    study.backend.cancel_errors = [unreachable, unreachable]
    assert controller.cycle() and controller.cycle()  # two cycles cannot cancel: not ended
    assert load_rows(study.engine, study.spec.name)["study"].state == "running"
    assert not controller.cycle()  # the third cancel reaches the jobs: the study ends
    controller.close()
    rows = load_rows(study.engine, study.spec.name)
    assert rows["study"].state == "cancelled"
    ids = [job.external_id for job in rows["jobs"]]
    assert {job.state for job in rows["jobs"]} == {"cancelled"}
    statuses = study.backend.inner.poll(ids)
    assert {status.state for status in statuses.values()} == {JobState.CANCELLED}
    assert study.backend.cancel_calls == 3


def test_a_study_that_fails_fast_while_the_backend_is_unreachable_still_cancels_its_jobs(
    tmp_path: Path,
) -> None:
    """The first three jobs fail the same way (fail fast) while slurmctld is down: the study
    is stored failed at once, and the controller stays until scancel has reached the jobs
    still running, instead of leaving them running with nobody to cancel them."""
    study = sim_study(tmp_path, workers=4, max_trials=8)
    controller = study.controller()
    controller.open()
    assert controller.cycle()  # four jobs submitted, nothing reported yet
    ids = sorted(controller.external_ids())
    assert len(ids) == 4
    study.backend.failed = set(ids[:3])
    unreachable = BackendUnavailable("scancel: Unable to contact slurm controller")
    study.backend.cancel_errors = [unreachable, unreachable]
    assert controller.cycle()  # three early ends: failed, but the cancel cannot be made
    assert load_rows(study.engine, study.spec.name)["study"].state == "failed"
    assert controller.cycle()  # still unreachable
    assert not controller.cycle()  # scancel works: the drive ends
    controller.close()
    assert controller.failure and "all failed (exit code 2)" in controller.failure
    assert study.backend.inner.poll([ids[3]])[ids[3]].state is JobState.CANCELLED
    assert study.backend.cancel_calls == 3
