"""Fixtures of the plot tests: one finished local study (the toy trial), run once per module.

The study file comes from tests/controller/controller_helpers.py; tests/ is not a package, so
its folder is put on sys.path here, once, instead of copying the helper.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CONTROLLER_TESTS = Path(__file__).resolve().parents[1] / "controller"
if str(CONTROLLER_TESTS) not in sys.path:
    sys.path.insert(0, str(CONTROLLER_TESTS))

from controller_helpers import study_toml  # noqa: E402

STUDY = "plotted"


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """(database URL, study name) of a finished ASHA (promotion) study on the local backend."""
    tmp_path = tmp_path_factory.mktemp("plot-study")
    path = study_toml(tmp_path, name=STUDY, budget={"max_trials": 12, "max_concurrent": 3})
    db_url = f"sqlite:///{tmp_path / 'plots.db'}"
    argv = [sys.executable, "-m", "slurmhpo.cli.main", "run", str(path), "--db", db_url]
    done = subprocess.run(
        [*argv, "--poll-interval", "0.2", "-q"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "finished" in done.stdout, done.stdout
    return db_url, STUDY
