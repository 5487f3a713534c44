"""Parsing squeue/sacct text and merging the two answers (pure functions, no Slurm needed).

The sample rows are shaped like the real output recorded in /work/shared/slurm-notes.md.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from slurmhpo.backends.base import JobState, JobStatus
from slurmhpo.backends.sacct import (
    expand_job_id,
    map_state,
    merge,
    parse_exit_code,
    parse_sacct,
    parse_squeue,
    parse_time,
)


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("CANCELLED by 0", JobState.CANCELLED),
        ("CANCELLED+", JobState.CANCELLED),
        ("COMPLETED", JobState.COMPLETED),
        ("FAILED", JobState.FAILED),
        ("TIMEOUT", JobState.TIMEOUT),
        ("OUT_OF_MEMORY", JobState.OUT_OF_MEMORY),
        ("NODE_FAIL", JobState.NODE_FAIL),
        ("PREEMPTED", JobState.PREEMPTED),
        ("REQUEUED", JobState.REQUEUED),
        ("PENDING", JobState.PENDING),
        ("RUNNING", JobState.RUNNING),
        ("SUSPENDED", JobState.RUNNING),
        ("COMPLETING", JobState.RUNNING),
        ("BOOT_FAIL", JobState.FAILED),
        ("DEADLINE", JobState.TIMEOUT),
        ("SOMETHING_NEW", JobState.UNKNOWN),
        ("", JobState.UNKNOWN),
    ],
)
def test_map_state(raw: str, state: JobState) -> None:
    assert map_state(raw) is state


def test_expand_job_id() -> None:
    assert expand_job_id("123") == ["123"]
    assert expand_job_id("123_4") == ["123_4"]
    assert expand_job_id("123_[0-2,5%2]") == ["123_0", "123_1", "123_2", "123_5"]
    assert expand_job_id("7_[3]") == ["7_3"]


def test_parse_exit_code() -> None:
    assert parse_exit_code("3:0") == (3, 0)
    assert parse_exit_code("0:9") == (137, 9)
    assert parse_exit_code("0:0") == (0, 0)
    assert parse_exit_code("") == (None, 0)


def test_parse_time() -> None:
    assert parse_time("Unknown") is None
    assert parse_time("None") is None
    parsed = parse_time("2026-11-23T11:33:31")
    assert parsed is not None and parsed.tzinfo is UTC


def test_parse_sacct_rows() -> None:
    text = (
        "10|a|COMPLETED|0:0|2026-11-23T11:00:00|2026-11-23T11:00:05|None\n"
        "11_0|b+1|FAILED|3:0|2026-11-23T11:00:00|2026-11-23T11:00:02|NonZeroExitCode\n"
        "11_[1-2]|b+1|PENDING|0:0|Unknown|Unknown|Priority\n"
        "12|c|CANCELLED by 0|0:15|2026-11-23T11:00:00|2026-11-23T11:00:09|None\n"
        "garbage line\n"
    )
    rows = parse_sacct(text)
    assert set(rows) == {"10", "11_0", "11_1", "11_2", "12"}
    assert rows["10"].state is JobState.COMPLETED and rows["10"].exit_code == 0
    assert rows["10"].ended_at is not None
    assert rows["11_0"].state is JobState.FAILED and rows["11_0"].exit_code == 3
    assert rows["11_2"].state is JobState.PENDING and rows["11_2"].exit_code is None
    assert rows["12"].state is JobState.CANCELLED
    assert rows["12"].reason is not None and "CANCELLED by 0" in rows["12"].reason


def test_parse_squeue_rows() -> None:
    rows = parse_squeue("20_1|RUNNING|None\n21|PENDING|Resources\n")
    assert rows == {"20_1": (JobState.RUNNING, "None"), "21": (JobState.PENDING, "Resources")}


ENDED = JobStatus(JobState.COMPLETED, exit_code=0, ended_at=datetime.now(UTC))


def test_merge_squeue_wins_for_live_jobs() -> None:
    # a requeued job: sacct still says PREEMPTED (a final state), squeue says PENDING again
    preempted = JobStatus(JobState.PREEMPTED, exit_code=0)
    merged = merge(["5"], {"5": (JobState.PENDING, "BeginTime")}, {"5": preempted})
    assert merged["5"].state is JobState.PENDING
    assert merged["5"].reason == "BeginTime"


def test_merge_final_states_come_from_sacct() -> None:
    merged = merge(["5", "6"], {}, {"5": ENDED, "6": JobStatus(JobState.RUNNING)})
    assert merged["5"] == ENDED
    # gone from squeue but sacct has not recorded the end yet: transient, not a verdict
    assert merged["6"].state is JobState.UNKNOWN


def test_merge_failed_queries_are_unknown() -> None:
    assert merge(["5"], None, None)["5"].state is JobState.UNKNOWN
    assert merge(["5"], {"5": (JobState.RUNNING, "")}, None)["5"].state is JobState.RUNNING
    assert merge(["5"], None, {"5": ENDED})["5"] == ENDED
    assert merge(["5"], None, {"5": JobStatus(JobState.RUNNING)})["5"].state is JobState.UNKNOWN
    assert merge(["9"], {}, {})["9"].state is JobState.UNKNOWN
