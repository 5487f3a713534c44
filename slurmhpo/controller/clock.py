"""A swappable clock, so the simulator can drive the real controller on simulated time.

The controller never calls ``time`` directly: it asks its clock for the time and to wait. The
real clock sleeps; the simulated clock (see the simulated backend) advances instead, which is
what lets a benchmark run thousands of trials through the same loop in seconds.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Seconds since some origin, a UTC timestamp, and a way to let time pass."""

    def now(self) -> float: ...

    def utcnow(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class RealClock:
    """Wall-clock time; ``sleep`` really waits (interrupted early by :meth:`wake`)."""

    def __init__(self) -> None:
        self._woken = False

    def now(self) -> float:
        return time.monotonic()

    def utcnow(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` in short steps, returning early once :meth:`wake` was called."""
        deadline = time.monotonic() + seconds
        while not self._woken:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(left, 0.2))
        self._woken = False

    def wake(self) -> None:
        """Cut the current (or next) sleep short: a signal handler asks the loop to stop."""
        self._woken = True
