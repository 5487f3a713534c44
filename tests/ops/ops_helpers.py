"""Helpers of the operations tests: CLI subprocesses, bounded waits, reading a study back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select

from slurmhpo.store.db import make_engine, read_session
from slurmhpo.store.models import Command, Job, Lease, Observation, Study, Trial

CLI = [sys.executable, "-m", "slurmhpo.cli.main"]
T = TypeVar("T")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run one slurmhpo command to its end (bounded)."""
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )


def start(*args: str, toy_sleep: float, log: Path) -> subprocess.Popen[bytes]:
    """Start a long-running slurmhpo command (run, daemon); the toy trial sleeps per epoch."""
    env = {**os.environ, "TOY_SLEEP": str(toy_sleep)}
    with log.open("ab") as out:
        return subprocess.Popen([*CLI, *args], stdout=out, stderr=subprocess.STDOUT, env=env)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 120.0) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def finish(proc: subprocess.Popen[bytes], timeout: float = 180.0) -> int:
    """Wait for a started command to exit by itself; kill it (and fail) after ``timeout``."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"{proc.args!r} did not exit within {timeout:.0f} s") from None


def snapshot(db_url: str, name: str) -> dict[str, Any]:
    """The study row with its trials, jobs, observations, commands and lease, detached."""
    engine = make_engine(db_url)
    try:
        with read_session(engine) as s:
            study = s.scalar(select(Study).where(Study.name == name))
            if study is None:
                return {}
            where = {"study_id": study.id}
            return {
                "study": study,
                "trials": list(s.scalars(select(Trial).filter_by(**where))),
                "jobs": list(s.scalars(select(Job).filter_by(**where).order_by(Job.id))),
                "observations": list(s.scalars(select(Observation).filter_by(**where))),
                "commands": list(s.scalars(select(Command).filter_by(**where))),
                "lease": s.scalar(select(Lease).filter_by(**where)),
            }
    finally:
        engine.dispose()


ACTIVE = ("pending", "submitted", "running")


def active_jobs(rows: dict[str, Any]) -> list[Job]:
    return [job for job in rows.get("jobs", []) if job.state in ACTIVE]
