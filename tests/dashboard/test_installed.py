"""``slurmhpo dashboard`` from a plain (non-editable) install outside the checkout: the pages
and scripts ship inside the wheel, and plotly.js comes from the installed plotly package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

from dashboard_helpers import STUDY, start_dashboard

import slurmhpo

CHECKOUT = Path(slurmhpo.__file__).resolve().parent.parent


def test_the_dashboard_serves_from_a_non_editable_install(
    tmp_path: Path, finished_sqlite: str, served
) -> None:
    source = tmp_path / "src"
    shutil.copytree(
        CHECKOUT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", "*.egg-info", "build", "dist", "__pycache__", ".*cache", "tests",
            "docs", "test-artifacts", "*.db",
        ),
    )  # fmt: skip
    target = tmp_path / "site"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         str(source)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stdout + pip.stderr
    static = target / "slurmhpo" / "dashboard" / "static"
    assert {p.name for p in static.iterdir()} >= {"study.html", "study.js", "common.js"}
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {"PYTHONPATH": str(target)}
    where = subprocess.run(
        [sys.executable, "-c", "import slurmhpo.dashboard as d; print(d.__file__)"],
        cwd=workdir, env={**os.environ, **env}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.startswith(str(target)), "the test must exercise the installed copy"

    base, _ = start_dashboard(served, finished_sqlite, env=env, cwd=workdir)
    for path in (f"/studies/{STUDY}", "/static/study.js", "/vendor/plotly.min.js"):
        with urllib.request.urlopen(base + path, timeout=30) as answer:
            assert answer.status == 200 and len(answer.read()) > 500, path
