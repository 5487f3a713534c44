"""Helpers of the dashboard tests (a module of its own: test modules import it by name, which
a conftest.py, one per test folder, cannot safely be)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from controller_helpers import study_toml

STUDY = "board"


def run_study(tmp_path: Path, db_url: str, name: str = STUDY, trials: int = 12) -> None:
    """Run a whole ASHA (promotion) study of the toy trial on the local backend."""
    path = study_toml(tmp_path, name=name, budget={"max_trials": trials, "max_concurrent": 3})
    argv = [sys.executable, "-m", "slurmhpo.cli.main", "run", str(path), "--db", db_url]
    done = subprocess.run(
        [*argv, "--poll-interval", "0.2", "-q"], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    assert "finished" in done.stdout, done.stdout


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_dashboard(
    processes: list[subprocess.Popen],
    db_url: str,
    *extra: str,
    env: dict | None = None,
    cwd: Path | None = None,
) -> tuple[str, subprocess.Popen]:
    """Start ``slurmhpo dashboard`` on a free loopback port; return its base URL once it
    answers (fails the test with its output if it exits or stays silent for 60 s)."""
    import os
    import time
    import urllib.request

    port = free_port()
    argv = [sys.executable, "-m", "slurmhpo.cli.main", "dashboard", "--db", db_url]
    process = subprocess.Popen(
        [*argv, "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    processes.append(process)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"slurmhpo dashboard exited {process.returncode}: {process.stdout.read()}")
        try:
            with urllib.request.urlopen(f"{base}/favicon.ico", timeout=2):
                return base, process
        except OSError:
            time.sleep(0.2)
    pytest.fail("slurmhpo dashboard did not answer within 60 s")
