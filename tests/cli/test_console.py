"""The real entry points, as separate processes: the installed console script, and
``python -m slurmhpo.cli.main`` from a plain (non-editable) install outside the checkout."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import slurmhpo
from slurmhpo.store.migrate import head_revision

CHECKOUT = Path(slurmhpo.__file__).resolve().parent.parent


def _console(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # The script installed beside this interpreter (CI runs pytest from a venv not on PATH).
    script = shutil.which("slurmhpo", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.fail("the slurmhpo console script is not on PATH: pip install -e .[test]")
    return subprocess.run(
        [script, *argv], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_console_script_upgrade_then_list(tmp_path: Path, db_url: str) -> None:
    upgraded = _console("db", "upgrade", "--db", db_url, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"revision {head_revision()} (head)" in upgraded.stdout
    listed = _console("studies", "--json", "--db", db_url, cwd=tmp_path)
    assert (listed.returncode, listed.stdout, listed.stderr) == (0, "[]\n", "")


def test_console_script_bad_url_has_no_traceback(tmp_path: Path) -> None:
    result = _console("studies", "--db", "::::", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("slurmhpo: error: --db: cannot parse '::::'")
    assert "Traceback" not in result.stderr


def test_db_upgrade_from_a_non_editable_install(tmp_path: Path) -> None:
    """Build and install a copy of the checkout with pip, then upgrade from that install."""
    source = tmp_path / "src"
    shutil.copytree(
        CHECKOUT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", "*.egg-info", "build", "dist", "__pycache__", ".*cache", "tests", "*.db"
        ),
    )
    target = tmp_path / "site"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         str(source)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stdout + pip.stderr
    assert (target / "slurmhpo" / "migrations" / "script.py.mako").is_file()
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("SLURMHPO_DB", None)
    where = subprocess.run(
        [sys.executable, "-c", "import slurmhpo.migrations as m; print(m.__file__)"],
        cwd=workdir, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.startswith(str(target)), "the test must exercise the installed copy"
    db = workdir / "fresh" / "hpo.db"
    result = subprocess.run(
        [sys.executable, "-m", "slurmhpo.cli.main", "db", "upgrade", "--db", f"sqlite:///{db}"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert {"studies", "trials", "jobs", "observations", "decisions", "leases"} <= tables
    assert revision == [(head_revision(),)]
