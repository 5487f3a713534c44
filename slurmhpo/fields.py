"""Typed reading of one TOML table, with errors that name the dotted field.

Study files are read by people who make mistakes; every mistake must come back as one
``ConfigError`` naming the exact field (``budget.max_trials``) and what is allowed there. This
small reader keeps that promise in one place instead of scattering type checks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from slurmhpo.errors import ConfigError

_TYPE_NAMES = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a table",
}

_MISSING = object()


def describe(value: Any) -> str:
    """A short, user-facing description of a value's type for error messages."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return f"{value!r} ({type(value).__name__})"


class TableReader:
    """Reads the keys of one table by type, then refuses any key nobody asked for.

    ``path`` is the dotted name of the table (``""`` for the top level), used in messages.
    Call :meth:`finish` after the last ``get`` so that a typo such as ``max_trails`` is an
    error instead of a silently ignored setting.
    """

    def __init__(self, table: Any, path: str) -> None:
        if not isinstance(table, Mapping):
            raise ConfigError(path or "study", f"must be a table, got {describe(table)}")
        self._table = table
        self._path = path
        self._seen: set[str] = set()

    def field(self, key: str) -> str:
        """Dotted name of ``key`` inside this table."""
        return f"{self._path}.{key}" if self._path else key

    def has(self, key: str) -> bool:
        return key in self._table

    def get(
        self,
        key: str,
        kind: type | tuple[type, ...],
        *,
        default: Any = _MISSING,
        hint: str | None = None,
    ) -> Any:
        """The value at ``key`` if it has type ``kind``; ``default`` if absent, else an error.

        Booleans are never accepted as numbers, and an integer is accepted where a float goes
        (TOML writes ``1`` and ``1.0`` differently, people do not).
        """
        self._seen.add(key)
        if key not in self._table:
            if default is _MISSING:
                raise ConfigError(self.field(key), "is required", hint)
            return default
        value = self._table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not _has_type(value, kinds):
            wanted = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
            raise ConfigError(self.field(key), f"must be {wanted}, got {describe(value)}", hint)
        if float in kinds and isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(self.field(key), f"must be a finite number, got {value!r}", hint)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value

    def positive(self, key: str, kind: type, *, default: Any = _MISSING) -> Any:
        """Like :meth:`get` for a number that must be > 0 (``None`` default allowed)."""
        value = self.get(key, kind, default=default)
        if value is not None and value <= 0:
            raise ConfigError(self.field(key), f"must be greater than 0, got {value!r}")
        return value

    def choice(self, key: str, allowed: tuple[str, ...], *, default: Any = _MISSING) -> str:
        """A string that must be one of ``allowed``."""
        value = self.get(key, str, default=default)
        if value not in allowed:
            raise ConfigError(
                self.field(key), f"must be one of {', '.join(allowed)}; got {value!r}"
            )
        return value

    def rest(self) -> dict[str, Any]:
        """Every key not read so far (for tables that another layer validates)."""
        return {k: v for k, v in self._table.items() if k not in self._seen}

    def finish(self) -> None:
        """Raise for the first key that no ``get`` asked for."""
        unknown = sorted(set(self._table) - self._seen)
        if unknown:
            known = ", ".join(sorted(self._seen)) or "none"
            raise ConfigError(
                self.field(unknown[0]), "is not a known setting", f"known settings: {known}"
            )


def _has_type(value: Any, kinds: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in kinds
    for kind in kinds:
        if kind is float and isinstance(value, int | float):
            return True
        if kind is dict and isinstance(value, Mapping):
            return True
        if kind is list and isinstance(value, list | tuple):
            return True
        if kind not in (float, dict, list) and isinstance(value, kind):
            return True
    return False
