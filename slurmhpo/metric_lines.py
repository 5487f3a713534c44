"""One metric line to a :class:`Record` or a :class:`Problem`: the line rules of the trial-side
format (:mod:`slurmhpo.trial`), with no file handling.

:mod:`slurmhpo.ingest` reads metric files by offset and calls :func:`parse_line` on each
complete line; the decisions about bad data are listed in its docstring. Kept apart so each
module stays small enough to read in one go.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from slurmhpo.paths import MAX_RESOURCE

TIME_KEY = "time"
# Kinds of a line that yields no record; consecutive ones in one call are one problem.
DROPPED_KINDS = frozenset(
    {"not_json", "not_object", "no_resource", "bad_resource", "too_long", "not_utf8"}
)
_SHOWN = 80  # characters of a bad value or parser message quoted in a problem's detail


@dataclass(frozen=True)
class Record:
    """One complete, valid metric line.

    ``metrics`` holds every numeric key except the resource and ``time``, as floats (ints
    converted, NaN and infinities kept). ``value`` is ``metrics[metric]``, None when the line
    lacks a usable objective. ``reported_at`` is the ``time`` key as an aware UTC datetime.
    ``line_offset`` is the byte offset where the line starts in the file.
    """

    resource: int
    metrics: dict[str, float] = field(hash=False)
    value: float | None
    reported_at: datetime | None
    line_offset: int


@dataclass(frozen=True)
class Problem:
    """A defect found at byte ``offset``; ``kind`` is one of ``slurmhpo.ingest.PROBLEM_KINDS``."""

    offset: int
    kind: str
    detail: str


@dataclass(frozen=True)
class LineRules:
    """What a line must hold: the resource key, the objective, the longest line allowed."""

    resource_name: str
    metric: str
    max_line_bytes: int


def too_long(offset: int, length: int, options: LineRules, unfinished: bool) -> Problem:
    """The problem of a line longer than ``options.max_line_bytes`` (``length`` so far)."""
    so_far = " so far, still unfinished" if unfinished else ""
    return Problem(
        offset,
        "too_long",
        f"line of {length} bytes{so_far} exceeds the {options.max_line_bytes}-byte limit; skipped",
    )


def parse_line(
    raw: bytes, offset: int, options: LineRules, problems: list[Problem]
) -> Record | None:
    """The record on one complete line (without its newline), or None (problem appended)."""
    if len(raw) > options.max_line_bytes:
        problems.append(too_long(offset, len(raw), options, unfinished=False))
        return None
    if not raw.strip():
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(offset, "not_utf8", f"invalid UTF-8 at byte {exc.start}"))
        return None
    if offset == 0:
        text = text.removeprefix("\ufeff")
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        problems.append(Problem(offset, "not_json", _shorten(str(exc) or type(exc).__name__)))
        return None
    if not isinstance(obj, dict):
        problems.append(
            Problem(offset, "not_object", f"a JSON {type(obj).__name__}, not an object")
        )
        return None
    return _record_from_object(obj, offset, options, problems)


def _record_from_object(
    obj: dict[str, Any], offset: int, options: LineRules, problems: list[Problem]
) -> Record | None:
    """Validate the resource, keep the numeric metrics, report the rest (see module doc)."""
    name = options.resource_name
    if name not in obj:
        problems.append(Problem(offset, "no_resource", f"no {name!r} key"))
        return None
    resource = obj[name]
    if not _is_int(resource) or not 1 <= resource <= MAX_RESOURCE:
        problems.append(
            Problem(
                offset,
                "bad_resource",
                f"{name}={_shorten(repr(resource))}: must be an int from 1 to {MAX_RESOURCE}",
            )
        )
        return None
    bad: list[str] = []
    reported_at = None
    if TIME_KEY in obj:
        reported_at = _timestamp(obj[TIME_KEY])
        if reported_at is None:
            bad.append(f"{TIME_KEY}={_shorten(repr(obj[TIME_KEY]))}")
    metrics: dict[str, float] = {}
    for key, value in obj.items():
        if key in (name, TIME_KEY):
            continue
        number = _as_float(value)
        if number is None:
            bad.append(f"{_shorten(repr(key))}={_shorten(repr(value))}")
        else:
            metrics[key] = number
    if bad:
        problems.append(Problem(offset, "bad_metric", "not a number, dropped: " + ", ".join(bad)))
    return Record(resource, metrics, metrics.get(options.metric), reported_at, offset)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _as_float(value: Any) -> float | None:
    """``value`` as a float if it is a JSON number (NaN/inf kept); None otherwise."""
    if isinstance(value, float):
        return value
    if _is_int(value):
        try:
            return float(value)
        except OverflowError:  # an int beyond float range is not a usable metric
            return None
    return None


def _timestamp(value: Any) -> datetime | None:
    """Unix seconds as an aware UTC datetime; None for non-numbers, NaN, inf, out of range."""
    seconds = _as_float(value)
    if seconds is None or not math.isfinite(seconds):
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _shorten(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
