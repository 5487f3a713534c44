"""The states of studies, trials and jobs: one vocabulary for the store, controller and CLI.

The database stores the plain values (check constraints list them, see ``store.models``);
``StrEnum`` members compare equal to those strings, so rows read back as text and code that
names a state agree, and a misspelt state is an AttributeError instead of a silent mismatch.
"""

from __future__ import annotations

from enum import StrEnum


class StudyState(StrEnum):
    REGISTERED = "registered"
    RUNNING = "running"
    PAUSED = "paused"  # nothing new starts; running jobs go on
    STOPPING = "stopping"  # nothing new starts; ends once running jobs finish
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def ended(self) -> bool:
        return self in (StudyState.FINISHED, StudyState.CANCELLED, StudyState.FAILED)


class TrialState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    COMPLETED = "completed"
    FAILED = "failed"


class JobRowState(StrEnum):
    """A job row's state (the backend's own view is ``backends.base.JobState``)."""

    PENDING = "pending"  # stored, not yet submitted (or submitted, its id not yet stored)
    SUBMITTED = "submitted"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    PREEMPTED = "preempted"
    LOST = "lost"

    @property
    def active(self) -> bool:
        return self in ACTIVE_JOB_STATES


ACTIVE_JOB_STATES = (JobRowState.PENDING, JobRowState.SUBMITTED, JobRowState.RUNNING)
