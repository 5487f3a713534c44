"""Typed search spaces: what a trial's configuration may be, and how searchers see it.

A :class:`SearchSpace` holds typed hyperparameters (:class:`Float`, :class:`Int`,
:class:`Categorical`, :class:`Ordinal`), each optionally active only under a :class:`Condition`
on a parent.  It samples configurations from a ``numpy.random.Generator`` that the caller passes
in (never the global RNG, so a seeded study is reproducible) and encodes them into the unit cube
for model-based searchers.

Unit-cube encoding (one coordinate per hyperparameter, in the order of ``SearchSpace.names``):

* float: ``(x - low) / (high - low)``, or the same in log space when ``log=True``; ``from_unit``
  returns exactly ``low`` at 0 and ``high`` at 1 and clips rounding error into ``[low, high]``.
  A float survives ``from_unit(to_unit(x))`` only up to rounding (a few ulps), unlike the rest.
* int: ``n = high - low + 1`` equal-width bins; value ``v`` owns ``[v - 0.5, v + 0.5]`` of the
  stretched interval ``[low - 0.5, high + 0.5]`` (in log space when ``log=True``, which needs
  ``low >= 1`` so ``low - 0.5 > 0``) and is encoded by the centre of its bin in unit space.
  Every ``u`` in ``[0, 1]`` decodes to a valid integer and ``from_unit(to_unit(v)) == v``
  exactly; to keep that exact in float64, bounds lie within ``+-2**48`` (``2**32`` on log scale).
* categorical / ordinal: choice ``i`` of ``n`` is ``(i + 0.5) / n``; ``u`` decodes to
  ``floor(u * n)`` clipped to ``n - 1``.
* inactive hyperparameters are NaN.

Values are matched by type as well as value: the choice ``1`` is not the value ``True`` nor
``1.0``, because configurations travel through JSON, which keeps those apart.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from slurmhpo.errors import ConfigError

__all__ = [
    "INT_BOUND",
    "LOG_INT_BOUND",
    "Categorical",
    "Condition",
    "Float",
    "Hyperparameter",
    "Int",
    "Ordinal",
    "SearchSpace",
]

INT_BOUND = 2**48
"""Largest magnitude of an integer bound: beyond it float64 cannot encode every value exactly."""

LOG_INT_BOUND = 2**32
"""Largest ``high`` of a log-scale integer: beyond it the top bins get narrower than rounding."""

_KINDS = ("float", "int", "categorical", "ordinal")
_CHOICE_TYPES = (str, int, float, bool)


# ----------------------------------------------------------------------------- value helpers


def _plain(value: Any) -> Any:
    """Turn numpy scalars into the Python value they stand for; leave anything else alone."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _is_number(value: Any) -> bool:
    """True for int and float, false for bool (``True`` is not a learning rate)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _key(value: Any) -> tuple[type, Any] | None:
    """Type-exact lookup key of a choice, so that ``1``, ``1.0`` and ``True`` stay apart."""
    value = _plain(value)
    if isinstance(value, _CHOICE_TYPES):
        return (type(value), value)
    return None


def _duplicate_key(value: Any) -> tuple[str, Any]:
    """Key under which two choices count as duplicates: 1 and 1.0 are, 1 and True are not."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, str):
        return ("str", value)
    return ("number", value)


def _unit(u: float) -> float:
    """Clip a unit coordinate into [0, 1]; NaN has no meaning for an active parameter."""
    u = float(u)
    if math.isnan(u):
        raise ValueError("unit coordinate is NaN; NaN is only allowed for inactive parameters")
    return min(max(u, 0.0), 1.0)


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(
            "space",
            f"hyperparameter name must be a non-empty string, got {_describe(name)}",
            "name every hyperparameter, e.g. lr or batch_size",
        )


def _check_condition(name: str, condition: Any) -> None:
    if condition is not None and not isinstance(condition, Condition):
        raise ConfigError(
            f"space.{name}.when",
            f"condition must be a Condition or None, got {_describe(condition)}",
            "use Condition(parent, values)",
        )


def _check_flag(name: str, log: Any) -> None:
    if not isinstance(log, (bool, np.bool_)):
        raise ConfigError(f"space.{name}.log", f"must be true or false, got {_describe(log)}")


def _as_tuple(field: str, values: Any, what: str) -> tuple[Any, ...]:
    """Accept a list or tuple (TOML gives lists) of str/int/float/bool, finite, no duplicates."""
    if not isinstance(values, (list, tuple)):
        raise ConfigError(
            field, f"{what} must be a list, got {_describe(values)}", 'e.g. ["a", "b"]'
        )
    values = tuple(_plain(v) for v in values)
    if not values:
        raise ConfigError(field, f"{what} must not be empty", "list at least one value")
    seen: set[tuple[str, Any]] = set()
    for value in values:
        if not isinstance(value, _CHOICE_TYPES):
            raise ConfigError(
                field,
                f"{what} may hold only strings, integers, floats and booleans, got "
                f"{_describe(value)}",
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(field, f"{what} must be finite, got {value!r}")
        if _duplicate_key(value) in seen:
            raise ConfigError(field, f"{what} lists {value!r} twice", "list each value once")
        seen.add(_duplicate_key(value))
    return values


# ----------------------------------------------------------------------------- hyperparameters


@dataclass(frozen=True)
class Condition:
    """Makes a hyperparameter active only when ``config[parent]`` is one of ``values``.

    The parent must itself be active; a space checks that the parent exists, can be listed
    (int, categorical or ordinal) and that every value is one the parent can take.
    """

    parent: str
    values: tuple

    def __post_init__(self) -> None:
        if not isinstance(self.parent, str) or not self.parent.strip():
            raise ConfigError(
                "when", f"condition parent must be a non-empty name, got {_describe(self.parent)}"
            )
        values = _as_tuple(f"when.{self.parent}", self.values, "condition values")
        object.__setattr__(self, "values", values)


def _real_bound(name: str, which: str, value: Any) -> float:
    value = _plain(value)
    if not _is_number(value):
        raise ConfigError(f"space.{name}.{which}", f"must be a number, got {_describe(value)}")
    if not math.isfinite(value):
        raise ConfigError(f"space.{name}.{which}", f"must be finite, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Float:
    """A real number in ``[low, high]``, uniform or (``log=True``) log-uniform."""

    name: str
    low: float
    high: float
    log: bool = False
    condition: Condition | None = None
    kind: ClassVar[str] = "float"

    def __post_init__(self) -> None:
        _check_name(self.name)
        low = _real_bound(self.name, "low", self.low)
        high = _real_bound(self.name, "high", self.high)
        _check_flag(self.name, self.log)
        _check_condition(self.name, self.condition)
        field = f"space.{self.name}.low"
        if not low < high:
            raise ConfigError(field, f"low ({low!r}) must be less than high ({high!r})")
        if not math.isfinite(high - low):
            raise ConfigError(field, "the range high - low overflows a float", "narrow the range")
        if self.log and low <= 0:
            raise ConfigError(
                field, f"log scale needs low > 0, got {low!r}", "raise low or set log = false"
            )
        if self.log and not math.log(high) > math.log(low):
            raise ConfigError(field, "range too narrow for a log scale", "set log = false")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "log", bool(self.log))

    @property
    def cardinality(self) -> int | None:
        return None

    def domain(self) -> str:
        """Human description of the allowed values, for error messages."""
        scale = " (log scale)" if self.log else ""
        return f"a number in [{self.low!r}, {self.high!r}]{scale}"

    def _problem(self, value: Any) -> str | None:
        if not _is_number(value):
            return f"must be a number, got {_describe(value)}"
        if not math.isfinite(value) or not self.low <= value <= self.high:
            return f"{value!r} is outside [{self.low!r}, {self.high!r}]"
        return None

    def contains(self, value: Any) -> bool:
        return self._problem(_plain(value)) is None

    def sample(self, rng: np.random.Generator) -> float:
        """Uniform in ``[low, high]``, in log space for ``log=True``."""
        return self.from_unit(float(rng.random()))

    def to_unit(self, value: Any) -> float:
        x = float(_require(self, value))
        if self.log:
            u = (math.log(x) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        else:
            u = (x - self.low) / (self.high - self.low)
        return min(max(u, 0.0), 1.0)

    def from_unit(self, u: float) -> float:
        u = _unit(u)
        if u <= 0.0:
            return self.low
        if u >= 1.0:
            return self.high
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            x = math.exp(lo + u * (hi - lo))
        else:
            x = self.low + u * (self.high - self.low)
        return min(max(x, self.low), self.high)


def _int_bound(name: str, which: str, value: Any) -> int:
    value = _plain(value)
    field = f"space.{name}.{which}"
    if isinstance(value, float) and value.is_integer():
        raise ConfigError(field, f"must be an integer, got float {value!r}", f"write {int(value)}")
    if not _is_int(value):
        raise ConfigError(field, f"must be an integer, got {_describe(value)}")
    if abs(value) > INT_BOUND:
        raise ConfigError(
            field,
            f"{value} is too large: integer bounds must lie within +-2**48",
            "use a float parameter for such ranges",
        )
    return value


@dataclass(frozen=True)
class Int:
    """An integer in ``[low, high]``, uniform or (``log=True``) log-uniform over bins."""

    name: str
    low: int
    high: int
    log: bool = False
    condition: Condition | None = None
    kind: ClassVar[str] = "int"

    def __post_init__(self) -> None:
        _check_name(self.name)
        low = _int_bound(self.name, "low", self.low)
        high = _int_bound(self.name, "high", self.high)
        _check_flag(self.name, self.log)
        _check_condition(self.name, self.condition)
        field = f"space.{self.name}.low"
        if not low < high:
            raise ConfigError(field, f"low ({low}) must be less than high ({high})")
        if self.log and low <= 0:
            raise ConfigError(
                field, f"log scale needs low >= 1, got {low}", "raise low or set log = false"
            )
        if self.log and high > LOG_INT_BOUND:
            raise ConfigError(
                f"space.{self.name}.high",
                f"{high} is too large for a log-scale integer (at most 2**32)",
                "use a log-scale float parameter and round it in the trial",
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        object.__setattr__(self, "log", bool(self.log))

    @property
    def cardinality(self) -> int:
        return self.high - self.low + 1

    def domain(self) -> str:
        scale = " (log scale)" if self.log else ""
        return f"an integer in [{self.low}, {self.high}]{scale}"

    def _problem(self, value: Any) -> str | None:
        if not _is_int(value):
            return f"must be an integer, got {_describe(value)}"
        if not self.low <= value <= self.high:
            return f"{value} is outside [{self.low}, {self.high}]"
        return None

    def contains(self, value: Any) -> bool:
        return self._problem(_plain(value)) is None

    def sample(self, rng: np.random.Generator) -> int:
        """Uniform over the integers, or log-uniform over the bins for ``log=True``."""
        if self.log:
            return self.from_unit(float(rng.random()))
        return int(rng.integers(self.low, self.high, endpoint=True))

    def _edge(self, v: int) -> float:
        """Unit coordinate of the lower edge ``v - 0.5`` of value v's bin (log scale only)."""
        lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
        return (math.log(v - 0.5) - lo) / (hi - lo)

    def to_unit(self, value: Any) -> float:
        v = _require(self, value)
        if self.log:
            return 0.5 * (self._edge(v) + self._edge(v + 1))
        return (v - self.low + 0.5) / self.cardinality

    def from_unit(self, u: float) -> int:
        u = _unit(u)
        if not self.log:
            return self.low + min(math.floor(u * self.cardinality), self.cardinality - 1)
        lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
        v = math.floor(math.exp(lo + u * (hi - lo)) + 0.5)
        v = min(max(v, self.low), self.high)
        # exp/log rounding can land one bin off right at an edge; settle it with the same
        # edge function to_unit uses, so the round trip is exact.
        if v > self.low and u < self._edge(v):
            v -= 1
        elif v < self.high and u >= self._edge(v + 1):
            v += 1
        return v


class _Listed:
    """Shared behaviour of categorical and ordinal parameters: a finite list of options."""

    name: str
    _index: dict[tuple[type, Any] | None, int]  # set by _init_index; type-exact keys

    def _options(self) -> tuple:
        raise NotImplementedError

    def _init_index(self) -> None:
        index = {_key(v): i for i, v in enumerate(self._options())}
        object.__setattr__(self, "_index", index)

    @property
    def cardinality(self) -> int:
        return len(self._options())

    def domain(self) -> str:
        return f"one of {list(self._options())!r}"

    def index(self, value: Any) -> int:
        """Position of ``value`` among the options; ConfigError when it is not one of them."""
        _require(self, value)
        return self._index[_key(value)]

    def _problem(self, value: Any) -> str | None:
        if _key(value) not in self._index:
            return f"{value!r} is not {self.domain()}"
        return None

    def contains(self, value: Any) -> bool:
        return self._problem(_plain(value)) is None

    def sample(self, rng: np.random.Generator) -> Any:
        return self._options()[int(rng.integers(self.cardinality))]

    def to_unit(self, value: Any) -> float:
        return (self.index(value) + 0.5) / self.cardinality

    def from_unit(self, u: float) -> Any:
        n = self.cardinality
        return self._options()[min(math.floor(_unit(u) * n), n - 1)]


@dataclass(frozen=True)
class Categorical(_Listed):
    """One of unordered ``choices``; the encoding's order carries no meaning."""

    name: str
    choices: tuple
    condition: Condition | None = None
    kind: ClassVar[str] = "categorical"

    def __post_init__(self) -> None:
        _check_name(self.name)
        choices = _as_tuple(f"space.{self.name}.choices", self.choices, "choices")
        object.__setattr__(self, "choices", choices)
        _check_condition(self.name, self.condition)
        self._init_index()

    def _options(self) -> tuple:
        return self.choices


@dataclass(frozen=True)
class Ordinal(_Listed):
    """One of ``values`` in the given order; encoded by position, so neighbours are close."""

    name: str
    values: tuple
    condition: Condition | None = None
    kind: ClassVar[str] = "ordinal"

    def __post_init__(self) -> None:
        _check_name(self.name)
        values = _as_tuple(f"space.{self.name}.values", self.values, "values")
        object.__setattr__(self, "values", values)
        _check_condition(self.name, self.condition)
        self._init_index()

    def _options(self) -> tuple:
        return self.values


Hyperparameter = Float | Int | Categorical | Ordinal


class _Checked(Protocol):
    """What _require needs of a hyperparameter (the listed mixin included)."""

    @property
    def name(self) -> str: ...

    def domain(self) -> str: ...

    def _problem(self, value: Any) -> str | None: ...


def _require(param: _Checked, value: Any) -> Any:
    """Return ``value`` as a plain Python value, or raise ConfigError naming the parameter."""
    value = _plain(value)
    problem = param._problem(value)
    if problem is not None:
        raise ConfigError(f"config.{param.name}", problem, f"use {param.domain()}")
    return value


# ----------------------------------------------------------------------------- the space


def _check_parent(
    param: Hyperparameter, cond: Condition, by_name: Mapping[str, Hyperparameter], prefix: str
) -> None:
    """A condition must name an existing, listable parent and values that parent can take."""
    field = f"{prefix}.{param.name}.when"
    parent = by_name.get(cond.parent)
    if parent is None:
        known = ", ".join(n for n in by_name if n != param.name) or "none"
        raise ConfigError(
            field,
            f"parent {cond.parent!r} is not a hyperparameter of this space",
            f"known: {known}",
        )
    if parent.kind == "float":
        raise ConfigError(
            field,
            f"parent {cond.parent!r} is a float, whose values cannot be listed",
            "condition on an int, categorical or ordinal parameter",
        )
    for value in cond.values:
        if not parent.contains(value):
            raise ConfigError(
                field,
                f"{value!r} is not a value of {cond.parent!r}",
                f"use {parent.domain()}",
            )


def _topological(params: Sequence[Hyperparameter], prefix: str) -> tuple[Hyperparameter, ...]:
    """Parents before children: repeatedly take the earliest-declared parameter whose parent is
    already placed, so declaration order survives wherever the conditions allow it."""
    placed: dict[str, Hyperparameter] = {}
    pending = list(params)
    while pending:
        for i, param in enumerate(pending):
            if param.condition is None or param.condition.parent in placed:
                placed[param.name] = pending.pop(i)
                break
        else:
            names = ", ".join(p.name for p in pending)
            raise ConfigError(
                f"{prefix}.{pending[0].name}.when",
                f"conditions form a cycle among: {names}",
                "every chain of `when` parents must end at an unconditional parameter",
            )
    return tuple(placed.values())


class SearchSpace:
    """An ordered, validated set of hyperparameters; immutable once built.

    Contracts: ``params`` lists parents before children (stable topological order) and
    ``names``, ``to_unit`` and ``from_unit`` use that same order.  Configurations are plain
    dicts holding exactly the active parameters, with plain Python values.  Iterating yields
    the hyperparameter objects; ``space[name]`` looks one up by name.  ``prefix`` only names
    fields in error messages (``space.lr.when``).
    """

    def __init__(self, params: Iterable[Hyperparameter], *, prefix: str = "space") -> None:
        if isinstance(params, (str, bytes, Mapping)) or not isinstance(params, Iterable):
            raise ConfigError(prefix, f"expected a sequence of hyperparameters, got {params!r}")
        params = tuple(params)
        by_name: dict[str, Hyperparameter] = {}
        for param in params:
            if not isinstance(param, (Float, Int, Categorical, Ordinal)):
                raise ConfigError(
                    prefix, f"expected Float, Int, Categorical or Ordinal, got {_describe(param)}"
                )
            if param.name in by_name:
                raise ConfigError(f"{prefix}.{param.name}", "defined twice", "rename one of them")
            by_name[param.name] = param
        for param in params:
            if param.condition is not None:
                _check_parent(param, param.condition, by_name, prefix)
        self._params = _topological(params, prefix)
        self._by_name = {p.name: p for p in self._params}
        self._names = tuple(self._by_name)
        self._when = {
            p.name: frozenset(_key(v) for v in p.condition.values)
            for p in self._params
            if p.condition is not None
        }

    # -- container protocol --------------------------------------------------------------

    @property
    def params(self) -> tuple[Hyperparameter, ...]:
        return self._params

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    @property
    def dim(self) -> int:
        return len(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __iter__(self) -> Iterator[Hyperparameter]:
        return iter(self._params)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> Hyperparameter:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no hyperparameter {name!r}; known: {', '.join(self._names)}") from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SearchSpace):
            return NotImplemented
        return self._params == other._params

    def __hash__(self) -> int:
        return hash(self._params)

    def __repr__(self) -> str:
        return f"SearchSpace({list(self._params)!r})"

    # -- activity, sampling, validation --------------------------------------------------

    def _holds(self, param: Hyperparameter, config: Mapping[str, Any]) -> bool:
        """Whether param's own condition holds on config (ignores the parent's activity)."""
        cond = param.condition
        if cond is None:
            return True
        return cond.parent in config and _key(config[cond.parent]) in self._when[param.name]

    def is_active(self, name: str, config: Mapping[str, Any]) -> bool:
        """True when every condition on the chain from ``name`` up to a root holds in config."""
        param = self[name]
        while param.condition is not None:
            if not self._holds(param, config):
                return False
            param = self._by_name[param.condition.parent]
        return True

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draw one configuration: active parameters only, parents drawn before children."""
        config: dict[str, Any] = {}
        for param in self._params:
            if self._holds(param, config):
                config[param.name] = param.sample(rng)
        return config

    def validate(self, config: Mapping[str, Any]) -> None:
        """Raise ConfigError (field ``config.<name>``) unless config is exactly a valid one:
        no unknown keys, every active parameter given with a valid value, no inactive one."""
        if not isinstance(config, Mapping):
            raise ConfigError("config", f"must be a mapping of names to values, got {config!r}")
        for key in config:
            if key not in self._by_name:
                raise ConfigError(
                    f"config.{key}", "unknown hyperparameter", f"known: {', '.join(self._names)}"
                )
        for param in self._params:
            active = self.is_active(param.name, config)
            if param.name not in config:
                if active:
                    raise ConfigError(f"config.{param.name}", "missing", f"give {param.domain()}")
                continue
            if not active:
                raise ConfigError(f"config.{param.name}", _inactive_problem(param), "remove it")
            _require(param, config[param.name])

    # -- unit cube ------------------------------------------------------------------------

    def to_unit(self, config: Mapping[str, Any]) -> np.ndarray:
        """Encode a valid config: float64 of shape (dim,), NaN where a parameter is inactive."""
        self.validate(config)
        out = np.full(self.dim, np.nan, dtype=np.float64)
        for i, param in enumerate(self._params):
            if param.name in config:
                out[i] = param.to_unit(config[param.name])
        return out

    def from_unit(self, u: Any) -> dict[str, Any]:
        """Decode a point of the unit cube (clipped into it) into a config that validates.

        Coordinates of parameters that turn out inactive are ignored and may be NaN; a NaN for
        an active parameter, or a vector of the wrong shape, is a caller bug (ValueError).
        """
        arr = np.asarray(u, dtype=np.float64)
        if arr.shape != (self.dim,):
            raise ValueError(f"expected a vector of shape ({self.dim},), got shape {arr.shape}")
        config: dict[str, Any] = {}
        for i, param in enumerate(self._params):
            if not self._holds(param, config):
                continue
            if math.isnan(arr[i]):
                raise ValueError(f"u[{i}] is NaN but {param.name!r} is active")
            config[param.name] = param.from_unit(float(arr[i]))
        return config

    # -- dict form (TOML [space] table, JSON in the database) -----------------------------

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """JSON-serialisable form that ``from_dict`` reads back into an equal space."""
        return {p.name: _param_to_dict(p) for p in self._params}

    @classmethod
    def from_dict(cls, table: Mapping[str, Any], prefix: str = "space") -> SearchSpace:
        """Parse a ``[space]`` table; every mistake is a ConfigError naming the dotted field."""
        if not isinstance(table, Mapping):
            raise ConfigError(prefix, f"must be a table, got {_describe(table)}")
        if not table:
            raise ConfigError(
                prefix,
                "defines no hyperparameters",
                'add one, e.g. lr = { type = "float", low = 1e-4, high = 1e-1, log = true }',
            )
        params = [_parse_param(prefix, name, spec) for name, spec in table.items()]
        return cls(params, prefix=prefix)


def _inactive_problem(param: Hyperparameter) -> str:
    cond = param.condition
    if cond is None:  # unreachable: unconditional parameters are always active
        return "given, but inactive"
    return (
        f"given, but inactive: it applies only when {cond.parent} is active and one of "
        f"{list(cond.values)!r}"
    )


# ----------------------------------------------------------------------------- parsing


_KEYS = {
    "float": ("type", "low", "high", "log", "when"),
    "int": ("type", "low", "high", "log", "when"),
    "categorical": ("type", "choices", "when"),
    "ordinal": ("type", "values", "when"),
}


def _param_to_dict(param: Hyperparameter) -> dict[str, Any]:
    out: dict[str, Any] = {"type": param.kind}
    if isinstance(param, (Float, Int)):
        out.update(low=param.low, high=param.high, log=param.log)
    elif isinstance(param, Categorical):
        out["choices"] = list(param.choices)
    else:
        out["values"] = list(param.values)
    if param.condition is not None:
        out["when"] = {param.condition.parent: list(param.condition.values)}
    return out


def _parse_when(field: str, when: Any) -> Condition:
    """``when = { parent = [values] }`` (a single value may stand alone): one parent only."""
    example = 'e.g. when = { optimizer = ["sgd"] }'
    if not isinstance(when, Mapping) or len(when) != 1:
        raise ConfigError(
            field, f"must be a table naming exactly one parent, got {when!r}", example
        )
    ((parent, values),) = when.items()
    if isinstance(values, _CHOICE_TYPES):
        values = [values]
    try:
        return Condition(parent, values)
    except ConfigError as err:
        raise ConfigError(field, err.problem, example) from None


def _parse_param(prefix: str, name: Any, spec: Any) -> Hyperparameter:
    field = f"{prefix}.{name}"
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(prefix, f"hyperparameter name must be a non-empty string, got {name!r}")
    if not isinstance(spec, Mapping):
        raise ConfigError(
            field,
            f"must be a table, got {_describe(spec)}",
            'e.g. { type = "int", low = 1, high = 4 }',
        )
    kind = spec.get("type")
    if kind is None:
        raise ConfigError(f"{field}.type", "missing", f"add type = one of {', '.join(_KINDS)}")
    if not isinstance(kind, str) or kind not in _KEYS:
        raise ConfigError(
            f"{field}.type", f"unknown type {kind!r}", f"use one of {', '.join(_KINDS)}"
        )
    for key in spec:
        if key not in _KEYS[kind]:
            close = difflib.get_close_matches(str(key), _KEYS[kind], n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise ConfigError(
                f"{field}.{key}",
                f"unknown key for a {kind} parameter",
                f"{hint}allowed keys: {', '.join(_KEYS[kind])}",
            )
    required = [k for k in _KEYS[kind] if k not in ("type", "log", "when")]
    for key in required:
        if key not in spec:
            raise ConfigError(f"{field}.{key}", "missing", f"a {kind} parameter needs {key}")
    condition = _parse_when(f"{field}.when", spec["when"]) if "when" in spec else None
    try:
        return _build(kind, name, spec, condition)
    except ConfigError as err:
        if prefix == "space" or not err.field.startswith("space."):
            raise
        raise ConfigError(prefix + err.field[len("space") :], err.problem, err.fix) from None


def _build(kind: str, name: str, spec: Mapping[str, Any], cond: Condition | None) -> Hyperparameter:
    if kind == "float":
        return Float(name, spec["low"], spec["high"], spec.get("log", False), cond)
    if kind == "int":
        return Int(name, spec["low"], spec["high"], spec.get("log", False), cond)
    if kind == "categorical":
        return Categorical(name, spec["choices"], cond)
    return Ordinal(name, spec["values"], cond)
