"""Shared test policy: tests that need a real service skip on a laptop without it, fail in CI.

CI sets ``CI=true`` and starts every service itself, so a missing service there is a defect,
never a reason to skip.
"""

from __future__ import annotations

import os

import pytest


def running_in_ci() -> bool:
    """True when the CI runner set CI=true (or 1/yes)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> None:
    """Skip the calling test on a laptop; fail it in CI, where the service must be there."""
    if running_in_ci():
        pytest.fail(f"{reason} (CI=true: this test must run, not skip)", pytrace=False)
    pytest.skip(reason)
