"""Parse squeue and sacct output into backend-neutral job statuses (pure functions, no I/O).

Both tools are asked for ``|``-separated fields (``squeue -o``, ``sacct -P``). Job ids are
strings: ``123`` for a plain job, ``123_4`` for task 4 of array 123. A pending array may be
shown as one row ``123_[0-7%2]``; :func:`expand_job_id` turns it into one id per task.

State words are matched by their first word, so sacct's raw ``CANCELLED by 0`` maps like
``CANCELLED``; a word this module does not know maps to UNKNOWN (never a verdict).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from slurmhpo.backends.base import JobState, JobStatus

SACCT_FORMAT = "JobID,JobName,State,ExitCode,Start,End,Reason"
SQUEUE_FORMAT = "%i|%T|%r"

_STATES: dict[str, JobState] = {
    "PENDING": JobState.PENDING,
    "CONFIGURING": JobState.PENDING,
    "RESV_DEL_HOLD": JobState.PENDING,
    "RUNNING": JobState.RUNNING,
    "COMPLETING": JobState.RUNNING,  # ended, Slurm is cleaning up: the verdict comes next
    "SUSPENDED": JobState.RUNNING,  # holds its allocation and will continue
    "STOPPED": JobState.RUNNING,
    "SIGNALING": JobState.RUNNING,
    "RESIZING": JobState.RUNNING,
    "STAGE_OUT": JobState.RUNNING,
    "REQUEUED": JobState.REQUEUED,
    "REQUEUE_FED": JobState.REQUEUED,
    "REQUEUE_HOLD": JobState.REQUEUED,
    "COMPLETED": JobState.COMPLETED,
    "FAILED": JobState.FAILED,
    "BOOT_FAIL": JobState.FAILED,
    "SPECIAL_EXIT": JobState.FAILED,
    "CANCELLED": JobState.CANCELLED,
    "REVOKED": JobState.CANCELLED,
    "TIMEOUT": JobState.TIMEOUT,
    "DEADLINE": JobState.TIMEOUT,
    "OUT_OF_MEMORY": JobState.OUT_OF_MEMORY,
    "NODE_FAIL": JobState.NODE_FAIL,
    "PREEMPTED": JobState.PREEMPTED,
}
_ARRAY = re.compile(r"(\d+)_\[([^\]]*)\]")


def map_state(raw: str) -> JobState:
    """Slurm's state text (``CANCELLED by 0``, ``RUNNING``, ``CANCELLED+``) as a JobState."""
    word = raw.strip().split(" ", 1)[0].rstrip("+").upper()
    return _STATES.get(word, JobState.UNKNOWN)


def expand_job_id(job_id: str) -> list[str]:
    """``123_[0-2,5%2]`` -> ``['123_0', '123_1', '123_2', '123_5']``; other ids unchanged."""
    match = _ARRAY.fullmatch(job_id.strip())
    if match is None:
        return [job_id.strip()]
    base, spec = match.group(1), match.group(2).split("%", 1)[0]
    ids: list[str] = []
    for part in filter(None, spec.split(",")):
        low, _, high = part.partition("-")
        ids.extend(f"{base}_{task}" for task in range(int(low), int(high or low) + 1))
    return ids


def parse_exit_code(text: str) -> tuple[int | None, int]:
    """sacct ``code:signal`` -> (exit code, signal); 128 + signal stands in for a killed job."""
    code, _, sig = text.strip().partition(":")
    try:
        exit_code, signum = int(code), int(sig or 0)
    except ValueError:
        return None, 0
    return (128 + signum if signum and not exit_code else exit_code), signum


def parse_time(text: str) -> datetime | None:
    """sacct's local ``2026-11-23T11:33:31`` as an aware UTC datetime; None for Unknown/None."""
    try:
        return datetime.fromisoformat(text.strip()).astimezone(UTC)
    except ValueError:
        return None


def parse_sacct(text: str) -> dict[str, JobStatus]:
    """Rows of ``sacct -X -P -n --format=SACCT_FORMAT`` as {job id: status}."""
    statuses: dict[str, JobStatus] = {}
    for line in text.splitlines():
        fields = line.split("|")
        if len(fields) != 7:
            continue
        job_id, _name, raw_state, exit_text, start, end, reason = fields
        exit_code, signum = parse_exit_code(exit_text)
        state = map_state(raw_state)
        words = [raw_state.strip()] if raw_state.strip().upper() != state.name else []
        if reason.strip() not in {"", "None"}:
            words.append(reason.strip())
        if signum:
            words.append(f"signal {signum}")
        status = JobStatus(
            state,
            exit_code=exit_code if state.finished else None,
            reason="; ".join(words) or None,
            started_at=parse_time(start),
            ended_at=parse_time(end) if state.finished else None,
        )
        for one in expand_job_id(job_id):
            statuses[one] = status
    return statuses


def parse_squeue(text: str) -> dict[str, tuple[JobState, str]]:
    """Rows of ``squeue -h -r -o SQUEUE_FORMAT`` as {job id: (state, reason)}."""
    states: dict[str, tuple[JobState, str]] = {}
    for line in text.splitlines():
        fields = line.split("|")
        if len(fields) != 3:
            continue
        job_id, raw_state, reason = fields
        for one in expand_job_id(job_id):
            states[one] = (map_state(raw_state), reason.strip())
    return states


def merge(
    job_ids: list[str],
    queued: dict[str, tuple[JobState, str]] | None,
    accounted: dict[str, JobStatus] | None,
) -> dict[str, JobStatus]:
    """One status per id from squeue (what runs now) and sacct (how jobs ended).

    ``None`` stands for a query that failed. The rules: a job squeue lists as not finished is
    in squeue's state (sacct lags by seconds, and a requeued job is PENDING in squeue while
    sacct may still say PREEMPTED); otherwise only sacct gives verdicts, with exit codes.
    Everything else (sacct not caught up, a failed query, an id nobody knows) is UNKNOWN:
    transient, to be asked again.
    """
    statuses: dict[str, JobStatus] = {}
    for job_id in job_ids:
        live = None if queued is None else queued.get(job_id)
        record = None if accounted is None else accounted.get(job_id)
        if live is not None and not live[0].finished and live[0] is not JobState.UNKNOWN:
            statuses[job_id] = JobStatus(
                live[0],
                reason=live[1] if live[1] not in {"", "None"} else None,
                started_at=record.started_at if record is not None else None,
            )
        elif record is not None and record.state.finished:
            statuses[job_id] = record
        else:
            statuses[job_id] = JobStatus(JobState.UNKNOWN, reason=_why_unknown(queued, accounted))
    return statuses


def _why_unknown(queued: object, accounted: object) -> str:
    if accounted is None:
        return "sacct failed; ask again"
    if queued is None:
        return "squeue failed; ask again"
    return "not in squeue and no final state in sacct yet; ask again"
