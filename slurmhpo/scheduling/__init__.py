"""The decision core: schedulers decide how much resource a trial gets, searchers which config.

Pure and deterministic for a seed, no I/O. Build a study's scheduler with
:func:`make_scheduler`; rebuild one after a restart with :func:`rebuild` from its event history.
Modules: ``rungs`` and ``brackets`` (side-effect-free arithmetic), ``base`` (the interface),
``asha`` (ASHA and asynchronous Hyperband), ``adaptive`` and ``fidelity`` (asynchronous
Hyperband that learns how far each rung can be trusted), ``sync`` and ``bracket_run``
(synchronous successive halving and Hyperband), ``median``, ``curve`` and ``curves`` (the
learning-curve stopping rule and its forecast), ``fifo``, ``history``, ``factory``,
``searchers``.
"""

from __future__ import annotations

from slurmhpo.scheduling.base import Scheduler, TrialStatus
from slurmhpo.scheduling.factory import SCHEDULER_TYPES, make_scheduler
from slurmhpo.scheduling.history import Failed, ReplayMismatch, Result, Suggested, rebuild
from slurmhpo.scheduling.types import (
    Action,
    ResumeTrial,
    SchedulingError,
    StartTrial,
    Suggestion,
)

__all__ = [
    "SCHEDULER_TYPES",
    "Action",
    "Failed",
    "ReplayMismatch",
    "Result",
    "ResumeTrial",
    "Scheduler",
    "SchedulingError",
    "StartTrial",
    "Suggested",
    "Suggestion",
    "TrialStatus",
    "make_scheduler",
    "rebuild",
]
