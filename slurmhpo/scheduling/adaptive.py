"""The adaptive scheduler: asynchronous Hyperband that learns which rungs it can trust.

Asynchronous Hyperband (promotion variant, :mod:`slurmhpo.scheduling.asha`): every bracket is
an ASHA ladder with pause and resume, a free worker resumes the best promotable trial of the
highest rung that has one, else starts a new trial; no worker ever waits for a rung to fill.
What is added:

* **fidelity-adaptive brackets**: a :class:`~slurmhpo.scheduling.fidelity.FidelityTracker`
  measures, from every result at every rung level (a trial passes and reports the levels below
  its bracket's first one too), how well each level's ranking agrees with the highest
  well-filled rung. A new trial's bracket is drawn with probability proportional to the weight
  of the bracket's first level times the bracket's Hyperband size (Hyper-Tune's rule), so a
  level that ranks no better than chance stops receiving new trials (its share of the budget
  goes to brackets that start higher), and gets them back if its agreement recovers.
* **a multi-fidelity model**: the weights are handed to the searcher before each new
  configuration is asked for, if it takes them (``set_fidelity_weights``; the study default
  ``mf_kde`` does: one KDE per rung, each weighted by its level's trust).

Anchors: Hyper-Tune (Li et al., VLDB 2022) for the agreement measure, the cube of it as the
weight, and bracket selection by weight x bracket size; PASHA (Bohdal et al., ICLR 2023) for
the idea of letting the measured stability of rankings decide how much high-fidelity budget is
spent (here: where new trials start). Not taken from PASHA: growing the ladder's top while
rankings are unstable; the top stays r_max.

Replay: weights are a pure function of the results received, the bracket draw uses the
scheduler's rng after the searcher has answered (a refusal touches nothing), so a rebuilt
scheduler decides exactly as the uninterrupted one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from slurmhpo.scheduling.asha import AsyncHyperband
from slurmhpo.scheduling.base import Searcher, TrialRecord
from slurmhpo.scheduling.fidelity import FidelityTracker, TrustSettings, bracket_probabilities
from slurmhpo.scheduling.rungs import RungPlacement
from slurmhpo.scheduling.types import Action, Mode


class AdaptiveHyperband(AsyncHyperband):
    """Asynchronous Hyperband (promotion) with trust-weighted bracket draws (module docstring)."""

    def __init__(
        self,
        searcher: Searcher,
        mode: Mode,
        r_min: int,
        r_max: int,
        eta: int,
        rng: np.random.Generator,
        *,
        rung_placement: RungPlacement = "from_min",
        trust: TrustSettings | None = None,
    ) -> None:
        super().__init__(
            searcher, mode, r_min, r_max, eta, rng,
            variant="promotion", rung_placement=rung_placement,
        )  # fmt: skip
        self.fidelity = FidelityTracker(self.levels, mode, trust)

    def bracket_probabilities(self) -> np.ndarray:
        """Current P(bracket b) for a new trial, from the levels' weights."""
        weights = self.fidelity.weights()
        return bracket_probabilities([weights[lv] for lv in self.levels], self.eta)

    def _ask(self, trial_id: int, allow_new: bool = True) -> dict[str, Any] | None:
        """Hand the searcher the current weights, then ask it for a configuration."""
        give = getattr(self.searcher, "set_fidelity_weights", None)
        if give is not None and allow_new:
            give(self.fidelity.weights())  # idempotent: a refusal after it leaves no trace
        return super()._ask(trial_id, allow_new)

    def _draw_bracket(self) -> int:
        return int(self.rng.choice(self.num_brackets, p=self.bracket_probabilities()))

    def _observes(self, rec: TrialRecord, resource: int) -> bool:
        return resource in self.fidelity  # every rung level, also below the trial's bracket

    def _decide(self, rec: TrialRecord, resource: int, value: float | None) -> Action:
        if resource in self.fidelity:
            self.fidelity.record(resource, rec.trial_id, value)
        return super()._decide(rec, resource, value)
