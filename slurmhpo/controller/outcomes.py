"""What a job's end means for its trial: the one table from backend states to actions.

The controller asks two questions when a job ends: which state does the job row get, and, if
the scheduler still expected the trial to train, may the segment be retried from its last
checkpoint? Keeping the answers in one table makes the Slurm outcome documentation and the
code the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

from slurmhpo.backends.base import JobState
from slurmhpo.states import JobRowState


@dataclass(frozen=True)
class Outcome:
    """How a finished job is recorded, and whether an unexpected end is worth a retry."""

    job_state: JobRowState
    retryable: bool
    describe: str  # for the failure reason shown by `slurmhpo trial`


OUTCOMES: dict[JobState, Outcome] = {
    JobState.COMPLETED: Outcome(JobRowState.COMPLETED, True, "exited before reaching its target"),
    JobState.FAILED: Outcome(JobRowState.FAILED, True, "failed"),
    JobState.TIMEOUT: Outcome(JobRowState.TIMEOUT, True, "hit its time limit"),
    JobState.OUT_OF_MEMORY: Outcome(JobRowState.FAILED, True, "ran out of memory"),
    JobState.NODE_FAIL: Outcome(JobRowState.FAILED, True, "lost its node"),
    JobState.PREEMPTED: Outcome(JobRowState.PREEMPTED, True, "was preempted"),
    # Cancelled by someone other than this controller: a person meant it, do not retry.
    JobState.CANCELLED: Outcome(JobRowState.CANCELLED, False, "was cancelled outside slurmhpo"),
}

LOST = Outcome(JobRowState.LOST, True, "disappeared from the backend")


def outcome_of(state: JobState) -> Outcome:
    """The outcome of a finished state (``state.finished`` must be true)."""
    try:
        return OUTCOMES[state]
    except KeyError:
        raise ValueError(f"{state} is not a finished state") from None
