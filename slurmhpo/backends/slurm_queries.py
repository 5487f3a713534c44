"""squeue and sacct for job status: one pair of calls per poll, shared by many studies if asked.

A :class:`SlurmQueries` answers "what state are these jobs in?" with one squeue call (what
runs now) and one sacct call (how jobs ended) for all ids it is given. One instance may be
shared by the Slurm backends of many studies (the login-node daemon does this): the daemon
calls :meth:`SlurmQueries.prefetch` with the ids of every study it drives, and each study's
poll in that round is answered from that one snapshot. So a daemon round costs two status
commands whether it drives one study or a hundred. :meth:`SlurmQueries.forget` drops the
snapshot at the end of the round; answers are never carried from one round to the next.

A failing call is transient: the ids it would have answered are UNKNOWN, and for a while
(``min(backoff_max_s, 2**failures)`` seconds) no call is made at all, so a Slurm that is down
or overloaded is not hammered by the poll loop.

Every command run here is counted in :attr:`SlurmQueries.calls` by name, so the daemon can log
how many Slurm commands a round took.
"""

from __future__ import annotations

import logging
import re
import subprocess
import time
from collections import Counter
from collections.abc import Sequence

from slurmhpo.backends import sacct
from slurmhpo.backends.base import JobState, JobStatus

logger = logging.getLogger(__name__)

JOB_ID = re.compile(r"\d+(?:_\d+)?")
COMMAND_TIMEOUT_S = 60.0
# How Slurm's clients say that slurmctld cannot be reached (killed, restarting, overloaded):
# words of slurm_strerror(), matched in lower case.
UNREACHABLE = (
    "unable to contact slurm controller",
    "socket timed out on send/recv operation",
    "slurm backup controller in standby mode",
    "zero bytes were transmitted or received",
)


def unreachable(text: str) -> bool:
    """True when a Slurm client's error text says slurmctld did not answer (a transient
    state), as opposed to refusing the request (a verdict)."""
    lowered = text.lower()
    return any(words in lowered for words in UNREACHABLE)


def run_command(argv: list[str]) -> str | None:
    """stdout of a Slurm command, or None (logged) when it failed or timed out.

    squeue's "invalid job id" (every id asked for has left the queue) is an empty answer.
    """
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        logger.warning("%s failed: %s", argv[0], error)
        return None
    if done.returncode != 0:
        if argv[0] == "squeue" and "invalid job id" in done.stderr.lower():
            return ""
        logger.warning("%s exited %d: %s", argv[0], done.returncode, done.stderr.strip())
        return None
    return done.stdout


class SlurmQueries:
    """Status queries with backoff and an optional per-round snapshot (module docstring)."""

    def __init__(self, backoff_max_s: float = 60.0) -> None:
        self.backoff_max_s = backoff_max_s
        self.calls: Counter[str] = Counter()
        self._failures = 0
        self._quiet_until = 0.0
        self._snapshot: dict[str, JobStatus] | None = None

    def call(self, argv: list[str]) -> str | None:
        """:func:`run_command`, counted in :attr:`calls`."""
        self.calls[argv[0]] += 1
        return run_command(argv)

    # ---- status ------------------------------------------------------------------------------
    def poll(self, external_ids: Sequence[str]) -> dict[str, JobStatus]:
        """A status for every id: from this round's snapshot where it has one, else asked."""
        wanted = [job_id for job_id in dict.fromkeys(external_ids) if JOB_ID.fullmatch(job_id)]
        answers = {
            job_id: JobStatus(JobState.UNKNOWN, reason="not a Slurm job id")
            for job_id in external_ids
            if not JOB_ID.fullmatch(job_id)
        }
        known = self._snapshot or {}
        missing = [job_id for job_id in wanted if job_id not in known]
        answers.update({job_id: known[job_id] for job_id in wanted if job_id in known})
        if missing:
            answers.update(self._ask(missing))
        return answers

    def prefetch(self, external_ids: Sequence[str]) -> None:
        """Ask once for all ``external_ids``; polls answer from this until :meth:`forget`."""
        wanted = [job_id for job_id in dict.fromkeys(external_ids) if JOB_ID.fullmatch(job_id)]
        self._snapshot = self._ask(wanted) if wanted else {}

    def forget(self) -> None:
        """Drop the snapshot: the next polls ask Slurm again."""
        self._snapshot = None

    def _ask(self, wanted: list[str]) -> dict[str, JobStatus]:
        """One squeue and one sacct call for ``wanted`` (see :func:`sacct.merge`)."""
        if time.monotonic() < self._quiet_until:
            return sacct.merge(wanted, None, None)
        ids = ",".join(wanted)
        queued_text = self.call(["squeue", "-h", "-r", "-o", sacct.SQUEUE_FORMAT, "-j", ids])
        argv = ["sacct", "-X", "-P", "-n", f"--format={sacct.SACCT_FORMAT}", "-j", ids]
        accounted_text = self.call(argv)
        queued = None if queued_text is None else sacct.parse_squeue(queued_text)
        accounted = None if accounted_text is None else sacct.parse_sacct(accounted_text)
        self._note(queued is not None and accounted is not None)
        return sacct.merge(wanted, queued, accounted)

    def _note(self, ok: bool) -> None:
        """Back off after failures: Slurm that is down or overloaded is not hammered."""
        if ok:
            self._failures, self._quiet_until = 0, 0.0
            return
        self._failures += 1
        pause = min(self.backoff_max_s, 2.0**self._failures)
        self._quiet_until = time.monotonic() + pause
