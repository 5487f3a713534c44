"""Fixtures of the hand-over tests: tests/controller's helpers (the toy trial's study files)
are put on sys.path here, once, since tests/ is not a package."""

from __future__ import annotations

import sys
from pathlib import Path

CONTROLLER_TESTS = Path(__file__).resolve().parents[1] / "controller"
if str(CONTROLLER_TESTS) not in sys.path:
    sys.path.insert(0, str(CONTROLLER_TESTS))
