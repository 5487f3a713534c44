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

from dashboard_helpers import run_study  # noqa: E402


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
