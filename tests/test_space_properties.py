"""Property tests of slurmhpo.space over random valid spaces, configs and unit vectors."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from slurmhpo.errors import ConfigError
from slurmhpo.space import (
    INT_BOUND,
    LOG_INT_BOUND,
    Categorical,
    Condition,
    Float,
    Hyperparameter,
    Int,
    Ordinal,
    SearchSpace,
)

# No deadline: a slow shared runner must not turn into a failure.
PROFILE = settings(deadline=None, max_examples=150)


def _same_choice(value: Any) -> tuple[str, Any]:
    """Choices that the space would call duplicates (1 and 1.0) must not both be drawn."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, str):
        return ("str", value)
    return ("number", value)


choice_values = st.one_of(
    st.text(max_size=4),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
choice_lists = st.lists(choice_values, min_size=1, max_size=5, unique_by=_same_choice)
finite = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def floats_params(draw: st.DrawFn, name: str) -> Float:
    log = draw(st.booleans())
    if log:
        low = draw(st.floats(min_value=5e-324, max_value=1e300))
        high = draw(st.floats(min_value=low, max_value=1.7e308))
    else:
        low, high = sorted((draw(finite), draw(finite)))
    try:
        return Float(name, low, high, log=log)
    except ConfigError:
        assume(False)
        raise


@st.composite
def int_params(draw: st.DrawFn, name: str) -> Int:
    if draw(st.booleans()):
        low = draw(st.integers(1, LOG_INT_BOUND - 1))
        return Int(name, low, draw(st.integers(low + 1, LOG_INT_BOUND)), log=True)
    low = draw(st.integers(-INT_BOUND, INT_BOUND - 1))
    return Int(name, low, draw(st.integers(low + 1, INT_BOUND)))


def any_param(name: str) -> st.SearchStrategy[Hyperparameter]:
    return st.one_of(
        floats_params(name),
        int_params(name),
        choice_lists.map(lambda c: Categorical(name, tuple(c))),
        choice_lists.map(lambda c: Ordinal(name, tuple(c))),
    )


def _listed_values(draw: st.DrawFn, parent: Hyperparameter) -> tuple:
    """A non-empty subset of the values a listable parent can take."""
    if isinstance(parent, Int):
        ints = st.integers(parent.low, parent.high)
        return tuple(draw(st.lists(ints, min_size=1, max_size=3, unique=True)))
    if isinstance(parent, Categorical):
        options = parent.choices
    elif isinstance(parent, Ordinal):
        options = parent.values
    else:
        raise TypeError(f"{parent.name} is a float and cannot be a parent")
    picks = draw(st.lists(st.sampled_from(range(len(options))), min_size=1, unique=True))
    return tuple(options[i] for i in picks)


@st.composite
def spaces(draw: st.DrawFn) -> SearchSpace:
    """Random valid spaces, some with chains of conditions, declared in a shuffled order."""
    params: list[Hyperparameter] = []
    for i in range(draw(st.integers(1, 6))):
        param = draw(any_param(f"p{i}"))
        listable = [p for p in params if p.kind != "float"]
        conditional: bool = draw(st.booleans())
        if listable and conditional:
            parent = draw(st.sampled_from(listable))
            cond = Condition(parent.name, _listed_values(draw, parent))
            param = _with_condition(param, cond)
        params.append(param)
    return SearchSpace(draw(st.permutations(params)))


def _with_condition(param: Hyperparameter, cond: Condition) -> Hyperparameter:
    return dataclasses.replace(param, condition=cond)


def unit_vectors(dim: int) -> st.SearchStrategy[np.ndarray]:
    coords = st.floats(min_value=-0.5, max_value=1.5)
    return st.lists(coords, min_size=dim, max_size=dim).map(np.array)


def assert_same_config(space: SearchSpace, got: dict, want: dict) -> None:
    """Exact for int/categorical/ordinal (value and type); floats up to rounding."""
    assert got.keys() == want.keys()
    for name, value in want.items():
        param = space[name]
        if isinstance(param, Float):
            scale = max(abs(param.low), abs(param.high))
            assert math.isclose(got[name], value, rel_tol=1e-9, abs_tol=1e-12 * scale)
        else:
            assert got[name] == value and type(got[name]) is type(value)


# ----------------------------------------------------------------------------- properties


@PROFILE
@given(data=st.data(), space=spaces())
def test_from_unit_always_validates(data: st.DataObject, space: SearchSpace):
    u = data.draw(unit_vectors(space.dim))
    config = space.from_unit(u)
    space.validate(config)
    assert all(type(v) in (float, int, str, bool) for v in config.values())
    # coordinates of inactive parameters do not matter, NaN included
    u_nan = u.copy()
    u_nan[[name not in config for name in space.names]] = np.nan
    assert space.from_unit(u_nan) == config


@PROFILE
@given(space=spaces(), seed=st.integers(0, 2**32 - 1))
def test_sampled_configs_round_trip_through_the_unit_cube(space: SearchSpace, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(5):
        config = space.sample(rng)
        space.validate(config)
        u = space.to_unit(config)
        assert u.shape == (space.dim,) and u.dtype == np.float64
        for name, coord in zip(space.names, u, strict=True):
            assert math.isnan(coord) == (name not in config)
            assert math.isnan(coord) or 0.0 <= coord <= 1.0
        assert_same_config(space, space.from_unit(u), config)


@PROFILE
@given(space=spaces(), seed=st.integers(0, 2**32 - 1))
def test_same_seed_same_samples(space: SearchSpace, seed: int):
    first = [space.sample(np.random.default_rng(seed)) for _ in range(2)]
    rng_a, rng_b = np.random.default_rng(seed), np.random.default_rng(seed)
    assert first[0] == first[1]
    assert [space.sample(rng_a) for _ in range(4)] == [space.sample(rng_b) for _ in range(4)]


@PROFILE
@given(space=spaces())
def test_dict_form_round_trips_through_json(space: SearchSpace):
    again = SearchSpace.from_dict(json.loads(json.dumps(space.to_dict())))
    assert again == space
    assert again.names == space.names


@PROFILE
@given(space=spaces())
def test_parents_come_before_children(space: SearchSpace):
    position = {name: i for i, name in enumerate(space.names)}
    for param in space:
        if param.condition is not None:
            assert position[param.condition.parent] < position[param.name]


@PROFILE
@given(data=st.data(), param=int_params("k"))
def test_every_int_value_round_trips_exactly(data: st.DataObject, param: Int):
    value = data.draw(
        st.one_of(st.sampled_from([param.low, param.high]), st.integers(param.low, param.high))
    )
    u = param.to_unit(value)
    assert 0.0 < u < 1.0
    assert param.from_unit(u) == value
    assert param.low <= param.from_unit(data.draw(st.floats(0.0, 1.0))) <= param.high


@PROFILE
@given(param=floats_params("x"), u=st.floats(0.0, 1.0))
def test_float_from_unit_stays_in_range_and_ends_are_exact(param: Float, u: float):
    assert param.low <= param.from_unit(u) <= param.high
    assert param.from_unit(0.0) == param.low and param.from_unit(1.0) == param.high
    assert 0.0 <= param.to_unit(param.from_unit(u)) <= 1.0
