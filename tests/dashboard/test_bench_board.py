"""``python -m slurmhpo.bench.dashboard`` on a small study: it makes what it says and every
timed answer is complete (the figures themselves are for docs/performance.md, not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_the_dashboard_benchmark_makes_its_study_and_times_the_page(tmp_path: Path) -> None:
    out = tmp_path / "board.json"
    argv = [sys.executable, "-m", "slurmhpo.bench.dashboard", "--trials", "40", "--repeat", "2"]
    where = f"sqlite:///{tmp_path / 'where.db'}"
    done = subprocess.run(
        [*argv, "--db", where, "--json", str(out)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    # ten trials stop at each of epochs 1, 3, 9 and 27: 400 observations, 100 jobs
    assert result["made"] | {"build_s": 0} == {
        "trials": 40, "observations": 400, "jobs": 100, "build_s": 0
    }  # fmt: skip
    assert len(result["server"]) == 2
    board_bytes = {run["board_bytes"] for run in result["server"]}
    assert len(board_bytes) == 1 and board_bytes.pop() > 400 * 10
    assert list(tmp_path.glob("dashboard_*.db")) == []  # the scratch database is removed
