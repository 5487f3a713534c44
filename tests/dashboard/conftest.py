"""Fixtures of the dashboard tests: finished studies of the toy trial, and app clients.

The study file comes from tests/controller/controller_helpers.py; tests/ is not a package, so
its folder is put on sys.path here, once, instead of copying the helper. The dashboard extra
must be installed (deploy/run-tests installs it); without it these tests skip, or fail in CI.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

CONTROLLER_TESTS = Path(__file__).resolve().parents[1] / "controller"
if str(CONTROLLER_TESTS) not in sys.path:
    sys.path.insert(0, str(CONTROLLER_TESTS))

from controller_helpers import study_toml  # noqa: E402

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


@pytest.fixture(scope="module")
def finished_sqlite(tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of a SQLite database holding one finished study named STUDY."""
    tmp_path = tmp_path_factory.mktemp("dashboard-study")
    url = f"sqlite:///{tmp_path / 'board.db'}"
    run_study(tmp_path, url)
    return url


@pytest.fixture
def app_client(skip_or_fail_ci):
    """``app_client(url, token=None, host="127.0.0.1")``: a TestClient on the dashboard app
    over a read-only engine of ``url``; engines are disposed after the test."""
    try:
        from starlette.testclient import TestClient

        from slurmhpo.dashboard.app import create_app
    except ImportError as exc:
        skip_or_fail_ci(
            f"the dashboard extra is not installed ({exc}): pip install -e '.[dashboard]'"
        )
    from slurmhpo.dashboard.access import is_loopback
    from slurmhpo.store.db import display_url, make_engine

    engines = []

    def make(url: str, token: str | None = None, host: str = "127.0.0.1") -> TestClient:
        engine = make_engine(url, readonly=True)
        engines.append(engine)
        app = create_app(engine, database=display_url(url), token=token, loopback=is_loopback(host))
        return TestClient(app, base_url=f"http://{host}")

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def served() -> Iterator[list[subprocess.Popen]]:
    """A list to put ``slurmhpo dashboard`` processes in; each is stopped after the test."""
    processes: list[subprocess.Popen] = []
    yield processes
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_dashboard(
    processes: list[subprocess.Popen], db_url: str, *extra: str, env: dict | None = None
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
