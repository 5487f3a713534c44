"""How values and times appear in every JSON document slurmhpo emits (CLI and dashboard).

Timestamps are ISO 8601 strings in UTC; an objective value is a JSON number, or the string
``"nan"``, ``"inf"`` or ``"-inf"``, or null when there is none (JSON has no NaN token, and a
strict parser rejects one).
"""

from __future__ import annotations

import math
from datetime import datetime


def json_value(value: float | None) -> float | str | None:
    """An objective for JSON output: finite floats as numbers, NaN/inf as strings."""
    if value is None or math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def json_time(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()
