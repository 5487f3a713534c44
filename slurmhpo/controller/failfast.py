"""Fail fast: a study whose first trials all fail the same way before reporting anything
ends at once, with the jobs' own words, instead of retrying every trial.

A wrong script path (``python: can't open file ...``, exit 2) used to run all 40 trials of a
study three times each, 120 failed jobs, and the study then called itself finished. When the
first :data:`ENDS_NEEDED` jobs that end, from at least two different trials, all end early
with the same cause and no observation was stored yet, the cause is the study, not the
trials: the study ends ``failed`` with the tail of the last job's stderr in the message.
One report, or one job reaching its target, disarms the check for good (a study that once
worked is left to its retries).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from slurmhpo.controller.reconcile import EarlyEnd

ENDS_NEEDED = 3  # early job ends with one cause, before any report...
TRIALS_NEEDED = 2  # ...from at least this many trials (one trial may just be a bad config)
STDERR_TAIL_BYTES = 2000
STDERR_FILE = "stderr.log"  # beside each segment's metric file (every backend writes it)


@dataclass
class FailFast:
    """Watches the first segments' ends (see the module docstring)."""

    armed: bool = True
    ends: list[EarlyEnd] = field(default_factory=list)  # the study's early ends so far

    def check(self, early: Sequence[EarlyEnd], *, worked: bool) -> str | None:
        """The reason to end the study now, or None; ``worked``: a report was stored or a
        job reached its target in this cycle."""
        if not self.armed:
            return None
        if worked:
            self.armed = False
            return None
        self.ends.extend(early)
        if len({end.cause for end in self.ends}) > 1:
            self.armed = False  # different causes: the trials' own problems, left to retries
            return None
        trials = {end.job.trial_number for end in self.ends}
        if len(self.ends) < ENDS_NEEDED or len(trials) < TRIALS_NEEDED:
            return None
        self.armed = False
        return _reason(self.ends)


def _reason(ends: list[EarlyEnd]) -> str:
    numbers = ", ".join(str(n) for n in sorted({end.job.trial_number for end in ends}))
    last = ends[-1]
    text = (
        f"the first {len(ends)} jobs (trials {numbers}) all {last.cause} before reporting "
        "anything, "
        "so the study ended instead of retrying every trial; fix the trial's command or "
        "environment (slurmhpo check STUDY_FILE shows the command), then register the "
        "study again under a new name"
    )
    tail = stderr_tail(last.job.metric_path)
    if tail:
        text += f"\nlast lines of {Path(last.job.metric_path or '').parent / STDERR_FILE}:\n{tail}"
    return text


def stderr_tail(metric_path: str | None) -> str:
    """The end of the stderr file of the segment whose metric file is ``metric_path``."""
    if not metric_path:
        return ""
    path = Path(metric_path).parent / STDERR_FILE
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - STDERR_TAIL_BYTES))
            data = fh.read()
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace").strip()
