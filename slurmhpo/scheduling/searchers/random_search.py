"""Random search: uniform samples from the search space (in each parameter's own scale)."""

from __future__ import annotations

from typing import Any

from slurmhpo.scheduling.searchers.base import BaseSearcher


class RandomSearcher(BaseSearcher):
    """Independent draws from ``space.sample``; exact repeats of earlier configs are redrawn.

    Never exhausted: on a tiny finite space where every configuration has been tried, it repeats
    one rather than return ``None`` (a bounded number of redraws, see ``sample_new``).
    """

    def _propose(self, trial_id: int) -> dict[str, Any] | None:
        return self.sample_new()
