"""Fixtures of the Slurm controller tests: tests/controller's helpers (the one writer of the
toy trial's study files, used by slurm_study_helpers.py) are put on sys.path here, once,
since tests/ is not a package."""

from __future__ import annotations

import sys
from pathlib import Path

CONTROLLER_TESTS = Path(__file__).resolve().parents[1] / "controller"
if str(CONTROLLER_TESTS) not in sys.path:
    sys.path.insert(0, str(CONTROLLER_TESTS))
