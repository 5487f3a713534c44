"""The learning-curve stopping rule: stop a trial unlikely to beat the incumbent at r_max.

A sibling of the median rule (:mod:`~slurmhpo.scheduling.median`): every trial is started
towards r_max and either completes or is stopped; nothing is paused. Rule, exactly: when trial
i reports at resource r < r_max and r is a *judged* resource (r_min, r_min + interval,
r_min + 2 interval, ...), then

1. with fewer than ``min_points`` reports so far (any value), i continues;
2. with no incumbent yet (no trial has reported a usable value at r_max), i continues;
3. if i's latest value is bad (NaN, +-inf, missing or infeasible) i is stopped: it ranks worst,
   as in every other scheduler;
4. else its finite reports are extrapolated to r_max (:func:`~.curves.beat_probability`) and
   i is stopped when P(value at r_max better than the incumbent) < ``threshold``; when no
   curve family can be fitted, it continues.

The incumbent is the best value any trial reported at r_max. Values are compared through
``ranking_key``, so min and max modes are alike. Why each trial continued or stopped (the
probability, or which fallback applied) is kept per trial for the audit log
(:meth:`decision_reason`); it is not part of the state.

Deterministic: the fits draw no random numbers, so a rebuild from the event history decides
as before. Cost: one decision is three small least-squares fits (a few milliseconds with
r_max = 52; at most 100 points enter a fit, :data:`~.curves.MAX_POINTS`); ``interval`` divides
the number of judged reports, and so the cost, by itself.
"""

from __future__ import annotations

import math

import numpy as np

from slurmhpo.scheduling.base import Scheduler, Searcher, TrialRecord
from slurmhpo.scheduling.curves import beat_probability
from slurmhpo.scheduling.rungs import RungRow
from slurmhpo.scheduling.types import Action, Mode, SchedulingError, Suggestion, ranking_key


class CurveStoppingScheduler(Scheduler):
    """Stop trials whose extrapolated curve is unlikely to beat the best result at r_max."""

    def __init__(
        self,
        searcher: Searcher,
        mode: Mode,
        r_min: int,
        r_max: int,
        rng: np.random.Generator,
        *,
        threshold: float = 0.05,
        min_points: int = 5,
        interval: int = 1,
    ) -> None:
        if isinstance(r_min, bool) or not isinstance(r_min, int) or not 1 <= r_min <= r_max:
            raise SchedulingError(f"need 1 <= r_min <= r_max, got {r_min}, {r_max}")
        if not 0.0 < threshold < 1.0:
            raise SchedulingError(f"threshold must be in (0, 1), got {threshold}")
        if min_points < 3:
            raise SchedulingError(f"min_points must be >= 3, got {min_points}")
        if interval < 1:
            raise SchedulingError(f"interval must be >= 1, got {interval}")
        super().__init__(searcher, mode, r_min, r_max, rng)
        self.threshold = threshold
        self.min_points = min_points
        self.interval = interval
        self.incumbent: float | None = None  # best score (larger is better) at r_max
        self._resources: dict[int, list[int]] = {}  # trial -> resources of finite reports
        self._scores: dict[int, list[float]] = {}  # trial -> their scores (-ranking key)
        self._reports: dict[int, int] = {}  # trial -> reports of any value
        self._reasons: dict[int, str] = {}

    def suggest(self, trial_id: int, *, allow_new: bool = True) -> Suggestion | None:
        config = self._ask(trial_id, allow_new)
        if config is None:
            return None
        self._resources[trial_id] = []
        self._scores[trial_id] = []
        self._reports[trial_id] = 0
        return self._start(trial_id, self.r_max, 0, config)

    def decision_reason(self, trial_id: int) -> str | None:
        """Why the last result of ``trial_id`` was answered as it was (None: not judged)."""
        return self._reasons.get(trial_id)

    def judged(self, resource: int) -> bool:
        """Whether the rule may stop a trial at ``resource``."""
        return resource < self.r_max and (resource - self.r_min) % self.interval == 0

    def _decide(self, rec: TrialRecord, resource: int, value: float | None) -> Action:
        trial = rec.trial_id
        score = -ranking_key(value, self.mode)
        self._reports[trial] += 1
        if math.isfinite(score):
            self._resources[trial].append(resource)
            self._scores[trial].append(score)
        self._reasons.pop(trial, None)
        if resource == self.r_max:
            rec.reached = resource
            if math.isfinite(score) and (self.incumbent is None or score > self.incumbent):
                self.incumbent = score
            return Action.COMPLETE
        if not self.judged(resource):
            return Action.CONTINUE
        action, self._reasons[trial] = self._judge(trial, score)
        return action

    def _judge(self, trial: int, score: float) -> tuple[Action, str]:
        if self._reports[trial] < self.min_points:
            return Action.CONTINUE, f"{self._reports[trial]} reports < min_points"
        if self.incumbent is None:
            return Action.CONTINUE, "no trial has reached r_max yet"
        if not math.isfinite(score):
            return Action.STOP, "latest value is bad (NaN, inf, missing or infeasible)"
        forecast = beat_probability(
            self._resources[trial], self._scores[trial], self.r_max, self.incumbent
        )
        if forecast.probability is None:
            return Action.CONTINUE, f"no forecast: {forecast.reason}"
        shown = -self.incumbent if self.mode == "min" else self.incumbent
        said = (
            f"P(beat {shown:.6g} at r_max) = {forecast.probability:.3g}; weights {forecast.weights}"
        )
        if forecast.probability < self.threshold:
            return Action.STOP, f"{said} < threshold {self.threshold:g}"
        return Action.CONTINUE, said

    def _on_failed(self, rec: TrialRecord) -> None:
        """A failed trial's reports stay; it cannot set the incumbent (it never reached r_max)."""

    def rung_table(self) -> dict[int, dict[int, list[RungRow]]]:
        return {}
