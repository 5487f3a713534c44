"""Build a study's scheduler (and its searcher) from the study file's tables.

``spec`` is the study as a mapping (``Study.to_dict()`` form): ``objective.mode``,
``resource.min``/``resource.max``, the ``scheduler`` and ``searcher`` tables and
``initial_configs``. Scheduler table, every key checked (unknown keys are errors):

======================  ===========================================================
type                    variant / settings
======================  ===========================================================
``asha``                ``variant`` = "promotion" (default) | "stopping"; ``eta``;
                        ``strict_quota`` (bool, default false: the ASHA paper's rule)
``hyperband``           asynchronous Hyperband; ``variant``, ``strict_quota`` as asha
``sync_sh``             synchronous successive halving from r_min; ``eta``; ``overlap``
                        (bool, default false: workers idle while a rung waits)
``sync_hyperband``      synchronous Hyperband, brackets most aggressive first; ``eta``;
                        ``overlap`` (default false)
``bohb``                KDE searcher + Hyperband; ``variant`` = "sync" (default, the
                        BOHB paper) | "promotion" | "stopping" (asynchronous, with
                        ``strict_quota`` as asha); for "sync", ``overlap`` defaults to
                        true, as in HpBandSter (the paper's own implementation), which
                        opens the next bracket rather than leave a worker idle
``adaptive``            asynchronous Hyperband (promotion) that learns how far each
                        rung can be trusted and draws brackets and weighs its model
                        by it (:mod:`~slurmhpo.scheduling.adaptive`); ``eta``,
                        ``prior_agreement``, ``prior_pairs``, ``power``, ``min_top``,
                        ``max_points`` (:class:`~slurmhpo.scheduling.fidelity.TrustSettings`);
                        searcher ``mf_kde`` unless the study names another
``pbt``                 population-based training (:mod:`~slurmhpo.scheduling.pbt`);
                        ``perturbation_interval`` (required, resource units, < r_max),
                        ``population_size`` (default 16), ``quantile_fraction`` (0.25,
                        at most 0.5), ``resample_probability`` (0.25)
``median``              median stopping rule; ``grace`` (default r_min), ``min_trials`` (3)
``curve``               learning-curve stopping rule (:mod:`~slurmhpo.scheduling.curve`);
                        ``threshold`` (0.05), ``min_points`` (5), ``interval`` (1)
``fifo``                no early stopping
``mo_asha``             MO-ASHA (:mod:`~slurmhpo.scheduling.mo_asha`), for studies with
                        several objectives: ASHA whose rungs rank by Pareto front;
                        ``variant``, ``eta``, ``strict_quota`` as asha; ``tie_break`` =
                        "nsga2" (default, crowding distance) | "epsnet"
======================  ===========================================================

A study with several objectives (``objective`` a list) may use ``mo_asha`` or ``fifo`` only:
the other schedulers rank by one value and would silently optimise the first objective.

``eta`` is an integer >= 2, default 3. Every rung scheduler (all but ``median``, ``curve`` and
``fifo``)
also takes ``rung_levels``: "from_min" (r_min * eta^k capped at r_max, the ASHA paper's
ladder) or "from_max" (r_max * eta^-k rounded, the Hyperband paper's and HpBandSter's), see
:func:`~slurmhpo.scheduling.rungs.rung_levels`; defaults in :data:`DEFAULT_RUNG_LEVELS`.
``bohb`` uses the KDE searcher; its ``[searcher]`` table may tune it (``type = "kde"`` or no
type) but may not name another searcher.

Randomness: one ``SeedSequence(seed)`` spawns two independent streams, the first for the
scheduler (bracket draws), the second for the searcher, so adding a bracket draw never shifts
the searcher's configurations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from slurmhpo.errors import ConfigError
from slurmhpo.fields import TableReader
from slurmhpo.pareto import TIE_BREAKS
from slurmhpo.scheduling.adaptive import AdaptiveHyperband
from slurmhpo.scheduling.asha import ASHA, AsyncHyperband, Variant
from slurmhpo.scheduling.base import Scheduler, Searcher
from slurmhpo.scheduling.curve import CurveStoppingScheduler
from slurmhpo.scheduling.fidelity import TrustSettings
from slurmhpo.scheduling.fifo import FIFOScheduler
from slurmhpo.scheduling.median import MedianStoppingScheduler
from slurmhpo.scheduling.mo_asha import MOAsyncHyperband
from slurmhpo.scheduling.pbt import PopulationBasedTraining
from slurmhpo.scheduling.rungs import RUNG_PLACEMENTS, RungPlacement, rung_levels
from slurmhpo.scheduling.sync import SyncHyperband, SyncSuccessiveHalving
from slurmhpo.scheduling.types import Mode

if TYPE_CHECKING:
    from slurmhpo.space import SearchSpace

SCHEDULER_TYPES: tuple[str, ...] = (
    "asha",
    "hyperband",
    "sync_sh",
    "sync_hyperband",
    "bohb",
    "adaptive",
    "pbt",
    "median",
    "curve",
    "fifo",
    "mo_asha",
)
MULTI_OBJECTIVE_TYPES: tuple[str, ...] = ("mo_asha", "fifo")  # the ones that take several
# Where each rung scheduler puts its rungs unless the study says ``rung_levels``. "from_min"
# for all: the only ladder before the setting existed, so a study started with an older
# slurmhpo still replays its history exactly after an upgrade (another default would change
# its decisions and the replay would refuse it); and on the lcbench benchmark "from_max" was
# not better overall for Hyperband or BOHB (docs/benchmarks.md, "Rung levels").
DEFAULT_RUNG_LEVELS: dict[str, RungPlacement] = {
    "asha": "from_min",
    "hyperband": "from_min",
    "sync_sh": "from_min",
    "sync_hyperband": "from_min",
    "bohb": "from_min",
    "adaptive": "from_min",
    "mo_asha": "from_min",
}
_ASYNC_VARIANTS = ("promotion", "stopping")
_BOHB_VARIANTS = ("sync", "promotion", "stopping")


def make_scheduler(spec: Mapping[str, Any], space: SearchSpace, seed: int) -> Scheduler:
    """The scheduler the study ``spec`` asks for, with its searcher, seeded by ``seed``."""
    from slurmhpo.scheduling.searchers import make_searcher  # the layer below; lazy on purpose

    table = spec.get("scheduler", {"type": "asha"})
    reader = TableReader(table, "scheduler")
    kind = reader.choice("type", SCHEDULER_TYPES, default="asha")
    modes = objective_modes(spec)
    _check_objective_count(kind, len(modes))
    r_min, r_max = _resource(spec)
    sched_rng, search_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2)
    )
    searcher_spec = _searcher_spec(spec, kind)
    initial = tuple(spec.get("initial_configs", ()))
    searcher = make_searcher(
        searcher_spec, space, modes[0], search_rng, initial, modes=modes if len(modes) > 1 else ()
    )
    common = _Common(searcher, modes[0], r_min, r_max, sched_rng)
    if kind == "mo_asha":
        scheduler: Scheduler = _build_mo_asha(reader, common, modes)
    elif kind == "pbt":
        scheduler = _pbt(reader, common, space)
    else:
        scheduler = _build(kind, reader, common)
    reader.finish()
    return scheduler


@dataclass(frozen=True)
class _Common:
    """What every scheduler is built from."""

    searcher: Searcher
    mode: Mode
    r_min: int
    r_max: int
    rng: np.random.Generator


def _build(kind: str, reader: TableReader, c: _Common) -> Scheduler:
    if kind == "fifo":
        return FIFOScheduler(c.searcher, c.mode, c.r_min, c.r_max, c.rng)
    if kind == "median":
        grace = reader.positive("grace", int, default=None)
        min_trials = reader.positive("min_trials", int, default=3)
        return MedianStoppingScheduler(
            c.searcher, c.mode, c.r_min, c.r_max, c.rng, grace=grace, min_trials=min_trials
        )
    if kind == "curve":
        return _curve(reader, c)
    eta = _eta(reader)
    placement = _placement(reader, kind)
    args = (c.searcher, c.mode, c.r_min, c.r_max, eta, c.rng)
    if kind == "sync_sh":
        return SyncSuccessiveHalving(
            *args, overlap=_overlap(reader, False), rung_placement=placement
        )
    if kind == "sync_hyperband":
        return SyncHyperband(*args, overlap=_overlap(reader, False), rung_placement=placement)
    if kind == "adaptive":
        return AdaptiveHyperband(*args, rung_placement=placement, trust=_trust(reader))
    if kind == "bohb":
        variant = reader.choice("variant", _BOHB_VARIANTS, default="sync")
        if variant == "sync":
            return SyncHyperband(*args, overlap=_overlap(reader, True), rung_placement=placement)
    else:
        variant = reader.choice("variant", _ASYNC_VARIANTS, default="promotion")
    strict = bool(reader.get("strict_quota", bool, default=False))
    chosen: Variant = "stopping" if variant == "stopping" else "promotion"
    if kind == "asha":
        return ASHA(*args, variant=chosen, strict_quota=strict, rung_placement=placement)
    return AsyncHyperband(*args, variant=chosen, strict_quota=strict, rung_placement=placement)


def _pbt(reader: TableReader, c: _Common, space: SearchSpace) -> PopulationBasedTraining:
    """Population-based training; every setting checked here, naming its field."""
    interval = reader.get(
        "perturbation_interval",
        int,
        hint=f"add e.g. perturbation_interval = {max(1, c.r_max // 10)}: how many resource "
        "units each trial trains between two exploit/explore steps",
    )
    if not 1 <= interval < c.r_max:
        raise ConfigError(
            reader.field("perturbation_interval"),
            f"must be an integer in 1..{c.r_max - 1} (below resource.max), got {interval}",
            f"use e.g. {max(1, c.r_max // 10)}",
        )
    population = reader.get("population_size", int, default=16)
    if population < 2:
        raise ConfigError(
            reader.field("population_size"), f"must be an integer >= 2, got {population}", "use 16"
        )
    fraction = reader.get("quantile_fraction", float, default=0.25)
    if not 0.0 < fraction <= 0.5:
        raise ConfigError(
            reader.field("quantile_fraction"),
            f"must be a number in (0, 0.5], got {fraction}",
            "use 0.25: the bottom quarter copies the top quarter",
        )
    resample = reader.get("resample_probability", float, default=0.25)
    if not 0.0 <= resample <= 1.0:
        raise ConfigError(
            reader.field("resample_probability"),
            f"must be a number in [0, 1], got {resample}",
            "use 0.25",
        )
    return PopulationBasedTraining(
        c.searcher, c.mode, c.r_min, c.r_max, c.rng,
        space=space, population_size=population, perturbation_interval=interval,
        quantile_fraction=fraction, resample_probability=resample,
    )  # fmt: skip


def _curve(reader: TableReader, c: _Common) -> CurveStoppingScheduler:
    """The learning-curve rule; each setting's range is checked here, naming the field."""
    threshold = reader.get("threshold", float, default=0.05)
    if not 0.0 < threshold < 1.0:
        raise ConfigError(
            reader.field("threshold"),
            f"must be a probability strictly between 0 and 1, got {threshold!r}",
            "use 0.05 (stop when the chance of beating the incumbent is below 5%)",
        )
    min_points = reader.get("min_points", int, default=5)
    if min_points < 3:
        raise ConfigError(
            reader.field("min_points"),
            f"must be an integer >= 3 (a curve family has up to 3 parameters), got {min_points}",
            "use 5",
        )
    interval = reader.positive("interval", int, default=1)
    return CurveStoppingScheduler(
        c.searcher, c.mode, c.r_min, c.r_max, c.rng,
        threshold=threshold, min_points=min_points, interval=interval,
    )  # fmt: skip


def _check_objective_count(kind: str, count: int) -> None:
    """MO-ASHA needs several objectives; the single-objective rankers take exactly one."""
    if count > 1 and kind not in MULTI_OBJECTIVE_TYPES:
        raise ConfigError(
            "scheduler.type",
            f"{kind} ranks by one objective, but the study has {count}",
            'use scheduler.type = "mo_asha" (or "fifo"), or a single objective',
        )
    if count == 1 and kind == "mo_asha":
        raise ConfigError(
            "scheduler.type",
            "mo_asha needs two or more objectives, the study has one",
            'list them as objective = [{metric = ..., mode = ...}, ...], or use "asha"',
        )


def _build_mo_asha(reader: TableReader, c: _Common, modes: tuple[Mode, ...]) -> Scheduler:
    eta = _eta(reader)
    placement = _placement(reader, "mo_asha")
    variant = reader.choice("variant", _ASYNC_VARIANTS, default="promotion")
    strict = bool(reader.get("strict_quota", bool, default=False))
    tie_break = reader.choice("tie_break", TIE_BREAKS, default="nsga2")
    return MOAsyncHyperband(
        c.searcher, modes, c.r_min, c.r_max, eta, c.rng,
        variant="stopping" if variant == "stopping" else "promotion",
        strict_quota=strict, rung_placement=placement,
        tie_break="epsnet" if tie_break == "epsnet" else "nsga2",
    )  # fmt: skip


def _trust(reader: TableReader) -> TrustSettings:
    """The adaptive scheduler's trust settings; TrustSettings.check names a bad field."""
    d = TrustSettings()
    trust = TrustSettings(
        prior_agreement=reader.get("prior_agreement", float, default=d.prior_agreement),
        prior_pairs=reader.get("prior_pairs", float, default=d.prior_pairs),
        power=reader.get("power", float, default=d.power),
        min_top=reader.get("min_top", int, default=d.min_top),
        max_points=reader.get("max_points", int, default=d.max_points),
    )
    trust.check()
    return trust


def _placement(reader: TableReader, kind: str) -> RungPlacement:
    """``scheduler.rung_levels``: one of :data:`RUNG_PLACEMENTS`, else an error with the fix."""
    chosen = reader.get("rung_levels", str, default=DEFAULT_RUNG_LEVELS[kind])
    for placement in RUNG_PLACEMENTS:
        if chosen == placement:
            return placement
    raise ConfigError(
        reader.field("rung_levels"),
        f"must be one of {', '.join(RUNG_PLACEMENTS)}; got {chosen!r}",
        'use "from_min" (rungs r_min * eta^k, as ASHA) or "from_max" '
        "(rungs r_max * eta^-k, as Hyperband and BOHB)",
    )


def scheduler_rung_levels(scheduler: Mapping[str, Any], r_min: int, r_max: int) -> list[int]:
    """The rung levels a ``[scheduler]`` table gives, [] for schedulers without rungs.

    For readers that draw or wake at rungs (plots, status, the benchmark's simulated clock)
    without building a scheduler; the table is assumed valid (it was checked at load).
    """
    kind = scheduler.get("type", "asha")
    if kind not in DEFAULT_RUNG_LEVELS:
        return []
    placement = scheduler.get("rung_levels", DEFAULT_RUNG_LEVELS[kind])
    return rung_levels(r_min, r_max, int(scheduler.get("eta", 3)), placement)


def _overlap(reader: TableReader, default: bool) -> bool:
    return bool(reader.get("overlap", bool, default=default))


def _eta(reader: TableReader) -> int:
    eta = reader.get("eta", int, default=3)
    if eta < 2:
        raise ConfigError("scheduler.eta", f"must be an integer >= 2, got {eta}", "use 3")
    return eta


def objective_modes(spec: Mapping[str, Any]) -> tuple[Mode, ...]:
    """The mode of each objective: ``objective`` is one table or a list of them."""
    objective = spec.get("objective", {})
    if isinstance(objective, Mapping):
        return (_mode(objective, "objective.mode"),)
    if isinstance(objective, list | tuple) and objective:
        return tuple(
            _mode(o if isinstance(o, Mapping) else {}, f"objective[{i}].mode")
            for i, o in enumerate(objective)
        )
    raise ConfigError("objective", "must be a table or a non-empty list of tables")


def _mode(objective: Mapping[str, Any], field: str) -> Mode:
    mode = objective.get("mode", "min")
    if mode == "min":
        return "min"
    if mode == "max":
        return "max"
    raise ConfigError(field, f"must be 'min' or 'max', got {mode!r}")


def _resource(spec: Mapping[str, Any]) -> tuple[int, int]:
    resource = spec.get("resource")
    if not isinstance(resource, Mapping):
        raise ConfigError(
            "resource", "is required", 'e.g. resource = {name="epoch", min=1, max=27}'
        )
    r_min = _positive_int(resource.get("min", 1), "resource.min")
    r_max = _positive_int(resource.get("max"), "resource.max")
    if r_min > r_max:
        raise ConfigError("resource.min", f"({r_min}) is greater than resource.max ({r_max})")
    return r_min, r_max


def _positive_int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(field, f"must be an integer >= 1, got {value!r}")
    return value


def _searcher_spec(spec: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    """The searcher table with its type filled in: random by default, kde for bohb."""
    searcher = spec.get("searcher") or {}
    if not isinstance(searcher, Mapping):
        raise ConfigError("searcher", "must be a table", 'e.g. searcher = {type = "random"}')
    if kind == "adaptive":
        return searcher if "type" in searcher else {**searcher, "type": "mf_kde"}
    if kind != "bohb":
        return searcher if "type" in searcher else {**searcher, "type": "random"}
    if searcher.get("type", "kde") != "kde":
        raise ConfigError(
            "searcher.type",
            f"bohb uses the kde searcher, got {searcher.get('type')!r}",
            'drop searcher.type, or use scheduler.type = "hyperband" with another searcher',
        )
    return {**searcher, "type": "kde"}
