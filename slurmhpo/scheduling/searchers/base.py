"""The searcher protocol and the bookkeeping every searcher shares.

A searcher decides *which configuration* a new trial tries; the scheduler decides how much
resource it gets. Searchers never see the controller or the store: they receive plain values
(``suggest``, ``observe``, ``on_trial_end``) and return plain dicts, and they draw randomness only
from the ``numpy.random.Generator`` they were given. So a searcher built with the same seed and fed
the same calls in the same order makes the same suggestions, which is what lets a restarted
controller rebuild it by replaying the event history.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from slurmhpo.errors import ConfigError
from slurmhpo.scheduling.types import Mode

if TYPE_CHECKING:
    from slurmhpo.space import SearchSpace

MODES: tuple[str, ...] = ("min", "max")


class Searcher(Protocol):
    """What a scheduler may ask of a searcher (see the module docstring for the contract)."""

    def suggest(self, trial_id: int) -> dict[str, Any] | None:
        """The configuration for new trial ``trial_id``, or ``None`` when nothing is left.

        The searcher remembers the trial as pending until :meth:`on_trial_end`.
        """
        ...

    def observe(
        self,
        trial_id: int,
        config: dict[str, Any],
        resource: int,
        value: float | None,
        *,
        feasible: bool = True,
        values: tuple[float | None, ...] | None = None,
    ) -> None:
        """Trial ``trial_id`` reported ``value`` at ``resource``; None/NaN/inf rank as worst.

        ``feasible=False``: the result broke an outcome constraint; a model must not count
        it among the good points, whatever its value. ``values``: every objective's value in
        a study with several (``value`` is the first); None otherwise.
        """
        ...

    def on_trial_end(self, trial_id: int) -> None:
        """The trial is paused, stopped, failed or completed: it is no longer pending."""
        ...


def config_key(config: Mapping[str, Any]) -> Hashable:
    """A hashable identity of a configuration, equal for equal configurations.

    Used to recognise exact duplicates; key order does not matter, and ``1`` and ``1.0`` are the
    same value (as the space sees them), but ``True`` is not ``1``.
    """
    return tuple(sorted((name, _hashable(value)) for name, value in config.items()))


def _hashable(value: Any) -> Hashable:
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, bool):
        return ("bool", value)  # the space keeps True apart from the choice 1
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def validate_initial_configs(
    space: SearchSpace, initial_configs: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Copies of ``initial_configs`` after checking each against ``space``.

    Errors name the entry and the parameter (``initial_configs[2].lr``) so the user can find the
    line in the study file.
    """
    checked: list[dict[str, Any]] = []
    for i, config in enumerate(initial_configs):
        where = f"initial_configs[{i}]"
        if not isinstance(config, Mapping):
            raise ConfigError(where, f"must be a table of parameter values, got {config!r}")
        try:
            space.validate(dict(config))
        except ConfigError as err:
            name = err.field.removeprefix("config.").removeprefix("space.")
            raise ConfigError(f"{where}.{name}", err.problem, err.fix) from err
        checked.append(dict(config))
    return checked


def check_mode(mode: str) -> Mode:
    """``mode`` itself if it is "min" or "max"; a ConfigError naming the objective otherwise."""
    if mode not in MODES:
        raise ConfigError("objective.mode", f"must be min or max, got {mode!r}")
    return mode  # type: ignore[return-value]


class BaseSearcher:
    """Shared state: the initial configurations queue, pending trials and configs seen so far.

    Subclasses implement :meth:`_propose`, which is only called once the initial configurations
    are used up; they may override :meth:`_record_observation` and :meth:`_trial_ended` to keep a
    model. ``suggest`` records every returned config, so subclasses can avoid exact duplicates.
    """

    def __init__(
        self,
        space: SearchSpace,
        mode: Mode,
        rng: np.random.Generator,
        *,
        initial_configs: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        self.space = space
        self.mode: Mode = check_mode(mode)
        self.rng = rng
        self._initial = validate_initial_configs(space, initial_configs)
        self._next_initial = 0
        self.pending: dict[int, dict[str, Any]] = {}
        self.suggested: set[int] = set()
        self.seen: set[Hashable] = set()

    def suggest(self, trial_id: int) -> dict[str, Any] | None:
        """See :class:`Searcher`; raises ValueError if ``trial_id`` was suggested before."""
        if trial_id in self.suggested:
            raise ValueError(f"trial {trial_id} already has a configuration")
        if self._next_initial < len(self._initial):
            config: dict[str, Any] | None = dict(self._initial[self._next_initial])
            self._next_initial += 1
        else:
            config = self._propose(trial_id)
        if config is None:
            return None
        self.suggested.add(trial_id)
        self.pending[trial_id] = config
        self.seen.add(config_key(config))
        return dict(config)

    def observe(
        self,
        trial_id: int,
        config: dict[str, Any],
        resource: int,
        value: float | None,
        *,
        feasible: bool = True,
        values: tuple[float | None, ...] | None = None,
    ) -> None:
        """See :class:`Searcher`; configs of trials this searcher did not suggest are welcome.

        ``values`` is ignored here: only the multi-objective searcher models them."""
        self.seen.add(config_key(config))
        self._record_observation(trial_id, config, resource, value, feasible)

    def on_trial_end(self, trial_id: int) -> None:
        """See :class:`Searcher`; ending an unknown or already ended trial is a no-op."""
        if self.pending.pop(trial_id, None) is not None:
            self._trial_ended(trial_id)

    def _propose(self, trial_id: int) -> dict[str, Any] | None:
        raise NotImplementedError

    def _record_observation(
        self,
        trial_id: int,
        config: dict[str, Any],
        resource: int,
        value: float | None,
        feasible: bool,
    ) -> None:
        """Hook for model-based searchers; the default keeps nothing."""

    def _trial_ended(self, trial_id: int) -> None:
        """Hook called once when a pending trial ends; the default does nothing."""

    def sample_new(self, max_tries: int = 100) -> dict[str, Any]:
        """A random configuration not suggested or observed before, if one is found quickly.

        Tries ``max_tries`` times, then returns the last draw even if it is a duplicate: a small
        finite space may simply have no unseen configuration left.
        """
        config = self.space.sample(self.rng)
        for _ in range(max_tries - 1):
            if config_key(config) not in self.seen:
                break
            config = self.space.sample(self.rng)
        return config
