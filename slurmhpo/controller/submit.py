"""Submit: hand the pending segments to the backend in one batch; re-adopt the ones a crashed
controller submitted before their ids reached the database.

A pending job row exists before its job does (the cycle's write commits it first). Its
``job_key`` travels with the job (the Slurm job name, a marker file), so after a crash between
submitting and storing the id, :meth:`Backend.find` finds the job by key and the row adopts it
instead of submitting it twice.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from slurmhpo.backends.base import Backend, SegmentRequest
from slurmhpo.controller.segments import StudyIdentity, build_request
from slurmhpo.errors import BackendUnavailable, ConfigError, SlurmhpoError
from slurmhpo.store.cycle import PendingSegment
from slurmhpo.study import StudySpec

log = logging.getLogger("slurmhpo.controller")

FULL_DISK = (errno.ENOSPC, errno.EDQUOT)
FULL_DISK_REMIND = 60  # cycles between two reminders while the disk stays full


@dataclass
class Submitter:
    """Submits segments; counts failed submissions in a row (``max_failures`` ends the study's
    drive with an error, since a cluster that refuses every job needs a person)."""

    backend: Backend
    runs_dir: Path
    max_failures: int
    key_of: Callable[[int], str]  # job id -> the job_key the backend attaches to the job
    may_be_submitted: set[int] = field(default_factory=set)  # pending rows from before a start
    failures: int = 0
    full_disk: int = 0  # cycles in a row the files could not be written for want of space
    calls: int = 0  # backend calls of the last :meth:`submit`

    def submit(
        self,
        spec: StudySpec,
        study: StudyIdentity,
        segments: Sequence[PendingSegment],
        *,
        hold: bool = False,
    ) -> dict[int, str]:
        """Job id -> external id of every segment adopted or submitted now (the files go to
        ``study``'s own folder, :mod:`slurmhpo.controller.rundir`).

        ``hold`` (the study is paused): only re-adopt; new segments wait as pending rows.
        """
        self.calls = 0
        submitted = self._adopt(segments)
        fresh = [] if hold else [s for s in segments if s.id not in submitted]
        if fresh:
            try:
                requests = [self.request(spec, study, s) for s in fresh]
            except OSError as exc:  # the trial files cannot be written: keep them pending
                self._no_space(_full_disk(exc) or exc)
                return submitted
            ids = self._submit(requests, [s.id for s in fresh])
            submitted.update({s.id: ext for s, ext in zip(fresh, ids, strict=True)} if ids else {})
        return submitted

    def _adopt(self, segments: Sequence[PendingSegment]) -> dict[int, str]:
        candidates = {self.key_of(s.id): s.id for s in segments if s.id in self.may_be_submitted}
        if not candidates:
            return {}
        self.calls += 1
        found = self.backend.find(list(candidates))
        self.may_be_submitted -= set(candidates.values())
        adopted = {job_id: found[key] for key, job_id in candidates.items() if key in found}
        if adopted:
            log.info("re-adopted %d job(s) submitted before a restart", len(adopted))
        return adopted

    def request(
        self, spec: StudySpec, study: StudyIdentity, segment: PendingSegment
    ) -> SegmentRequest:
        """The backend request of ``segment``, its files written (OSError when they cannot)."""
        return build_request(
            spec,
            self.runs_dir,
            study=study,
            trial=segment.trial_number,
            config=segment.config,
            start=segment.start,
            target=segment.target,
            segment=segment.segment,
            job_key=self.key_of(segment.id),
            checkpoint_from=segment.source,
            keep_start=segment.keep,
        )

    def _submit(self, requests: list[SegmentRequest], job_ids: list[int]) -> list[str]:
        """The backend's ids, or [] when this submission failed and is retried next cycle.

        A ConfigError (the study asks for something the backend cannot do) is not retried:
        it goes up with its own message, which names the field and the fix. A backend that
        cannot be reached (slurmctld down) is waited out however long it takes: that is no
        configuration error, so it does not count towards ``max_failures``; and since a
        submission whose answer never came may still have queued the jobs, the next attempt
        first looks for them by key (as after a restart) instead of submitting them twice.
        """
        self.calls += 1
        try:
            ids = self.backend.submit(requests)
        except ConfigError:
            raise
        except BackendUnavailable as exc:
            self.may_be_submitted.update(job_ids)
            log.warning("cannot submit now (%s); the jobs wait as pending rows", exc)
            return []
        except (SlurmhpoError, OSError) as exc:  # sbatch refused, slurmctld down, no fork
            full = _full_disk(exc)
            if full is not None:
                self._no_space(full)
                return []
            self.failures += 1
            if self.failures >= self.max_failures:
                raise SlurmhpoError(
                    f"could not submit jobs {self.failures} times in a row: {exc} "
                    "(check the [slurm] settings of the study, e.g. the partition name)"
                ) from exc
            log.warning("submission failed (%s); retrying next cycle", exc)
            return []
        self.failures = 0
        if self.full_disk:
            log.info("the trial files can be written again under %s; submitting", self.runs_dir)
            self.full_disk = 0
        return ids

    def _no_space(self, exc: OSError) -> None:
        """A full (or over-quota) file system is nobody's configuration error and no reason
        to give up: the segments wait as pending rows and every cycle tries again. Said at
        once, then every :data:`FULL_DISK_REMIND` cycles, so a long night does not flood the
        log. Any other OSError writing the files is raised (a permission problem needs a
        person)."""
        if exc.errno not in FULL_DISK:
            raise exc
        if self.full_disk % FULL_DISK_REMIND == 0:
            log.error(
                "cannot write the files of new trial segments under %s: %s; their jobs wait "
                "(pending) and are submitted once space is freed there",
                self.runs_dir,
                exc.strerror or exc,
            )
        self.full_disk += 1


def _full_disk(exc: BaseException | None) -> OSError | None:
    """The full-disk OSError behind ``exc`` (itself or a cause: the Slurm backend wraps
    submitit's errors), else None."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in FULL_DISK:
            return exc
        exc = exc.__cause__
    return None
