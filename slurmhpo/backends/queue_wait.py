"""How long a simulated job waits in the queue before it starts.

On a real cluster every job, and so every resume of a paused trial, waits in the Slurm queue:
minutes on a busy cluster. The simulated backend starts jobs at once unless it is given one of
these models, which draw each job's wait from a seeded generator:

* ``300``: every job waits 300 simulated seconds;
* ``lognormal:MEAN,SIGMA``: waits with mean MEAN and standard deviation SIGMA (seconds), a
  log-normal distribution (right-skewed, like real queue waits);
* ``trace:FILE.csv``: waits replayed from a CSV with ``submit`` and ``start`` columns (Unix
  seconds or ISO times, e.g. from ``sacct -P -o Submit,Start``), drawn at random with
  replacement; a row without a start (never started) is skipped.

``0`` (the default) means no wait: results are exactly those of a backend without a model.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from slurmhpo.errors import ConfigError

FIELD = "--queue-wait"
FIX = "use SECONDS, lognormal:MEAN,SIGMA or trace:FILE.csv"


@dataclass
class QueueWait:
    """A wait model (see the module docstring); :meth:`draw` gives the next job's wait."""

    spec: str  # as the user wrote it (recorded with the results)
    constant: float = 0.0
    lognormal: tuple[float, float] | None = None  # (mu, sigma) of the log of the wait
    samples: tuple[float, ...] = ()  # trace waits
    seed: int = 0
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)

    @property
    def none(self) -> bool:
        return self.lognormal is None and not self.samples and self.constant == 0.0

    def draw(self) -> float:
        """The next job's wait in simulated seconds (never negative)."""
        if self.lognormal is not None:
            mu, sigma = self.lognormal
            return float(self._rng.lognormal(mu, sigma))
        if self.samples:
            return self.samples[int(self._rng.integers(len(self.samples)))]
        return self.constant


def parse_queue_wait(text: str, seed: int = 0) -> QueueWait:
    """The model named by ``text``; ConfigError naming --queue-wait and the fix if bad."""
    spec = str(text).strip()
    kind, _, rest = spec.partition(":")
    if kind == "lognormal":
        return QueueWait(spec, lognormal=_lognormal_params(rest), seed=seed)
    if kind == "trace":
        return QueueWait(spec, samples=_trace_waits(Path(rest)), seed=seed)
    try:
        seconds = float(spec)
    except ValueError:
        raise ConfigError(FIELD, f"{spec!r} is not a wait", FIX) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(FIELD, f"{spec!r} is not a wait >= 0 seconds", FIX)
    return QueueWait(spec, constant=seconds, seed=seed)


def _lognormal_params(rest: str) -> tuple[float, float]:
    """(mu, sigma) of the underlying normal for a wait of mean ``m`` and deviation ``s``."""
    try:
        mean, deviation = (float(part) for part in rest.split(","))
    except ValueError:
        raise ConfigError(FIELD, f"lognormal:{rest} needs two numbers, MEAN,SIGMA", FIX) from None
    if not (math.isfinite(mean) and math.isfinite(deviation)) or mean <= 0 or deviation < 0:
        raise ConfigError(FIELD, f"lognormal:{rest} needs MEAN > 0 and SIGMA >= 0 seconds", FIX)
    sigma2 = math.log1p((deviation / mean) ** 2)
    return math.log(mean) - sigma2 / 2, math.sqrt(sigma2)


def _trace_waits(path: Path) -> tuple[float, ...]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise ConfigError(FIELD, f"cannot read the trace {path}: {exc.strerror}", FIX) from None
    waits = []
    for number, row in enumerate(rows, start=2):
        if not row.get("start") or row["start"].strip() in ("", "None", "Unknown"):
            continue
        try:
            wait = _seconds(row["start"]) - _seconds(row["submit"])
        except (KeyError, ValueError):
            raise ConfigError(
                FIELD, f"{path}:{number}: needs submit and start times", FIX
            ) from None
        waits.append(max(0.0, wait))
    if not waits:
        raise ConfigError(FIELD, f"the trace {path} has no job that started", FIX)
    return tuple(waits)


def _seconds(value: str) -> float:
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        return datetime.fromisoformat(value).timestamp()
