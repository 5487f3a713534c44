"""Unit tests of slurmhpo.space: each type, log scales, conditions, unit cube, dict form."""

from __future__ import annotations

import json
import math
import tomllib

import numpy as np
import pytest

from slurmhpo.errors import ConfigError
from slurmhpo.space import (
    Categorical,
    Condition,
    Float,
    Int,
    Ordinal,
    SearchSpace,
)

STUDY_SPACE = """
lr = { type = "float", low = 1e-4, high = 1e-1, log = true }
layers = { type = "int", low = 1, high = 4 }
activation = { type = "categorical", choices = ["relu", "tanh"] }
width = { type = "ordinal", values = [32, 64, 128] }
optimizer = { type = "categorical", choices = ["sgd", "adam"] }
momentum = { type = "float", low = 0.0, high = 0.99, when = { optimizer = ["sgd"] } }
"""


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def nested_space() -> SearchSpace:
    """optimizer -> momentum_kind -> nesterov_gamma: a child of a child, declared child first."""
    return SearchSpace(
        [
            Float("gamma", 0.1, 0.9, condition=Condition("momentum_kind", ("nesterov",))),
            Categorical("momentum_kind", ("plain", "nesterov"), Condition("optimizer", ("sgd",))),
            Categorical("optimizer", ("sgd", "adam")),
            Int("batch", 16, 256, log=True),
        ]
    )


# ----------------------------------------------------------------------------- single types


def test_kinds_and_cardinality():
    assert Float("a", 0, 1).kind == "float"
    assert Float("a", 0, 1).cardinality is None
    assert Int("b", 2, 7).kind == "int"
    assert Int("b", 2, 7).cardinality == 6
    assert Categorical("c", ("x", "y", "z")).kind == "categorical"
    assert Categorical("c", ("x", "y", "z")).cardinality == 3
    assert Ordinal("d", (1, 2)).kind == "ordinal"
    assert Ordinal("d", (1, 2)).cardinality == 2


def test_float_bounds_are_stored_as_floats_and_lists_as_tuples():
    p = Float("a", 0, 2)
    assert type(p.low) is float and type(p.high) is float
    assert Categorical("c", ["x", "y"]).choices == ("x", "y")
    assert Condition("c", ["x"]).values == ("x",)


def test_float_samples_stay_in_range_and_are_plain_floats():
    p = Float("a", -3.0, 5.0)
    g = rng()
    values = [p.sample(g) for _ in range(2000)]
    assert all(type(v) is float and -3.0 <= v <= 5.0 for v in values)
    assert abs(np.mean(values) - 1.0) < 0.2


def test_log_float_median_near_geometric_mean():
    p = Float("lr", 1e-5, 1e-1, log=True)
    g = rng(1)
    values = np.array([p.sample(g) for _ in range(4000)])
    geometric_mean = math.sqrt(1e-5 * 1e-1)  # 1e-3
    assert geometric_mean / 1.4 < np.median(values) < geometric_mean * 1.4
    # each decade gets about a quarter of the samples
    counts = np.histogram(np.log10(values), bins=[-5, -4, -3, -2, -1])[0]
    assert counts.min() > 4000 / 4 * 0.85
    assert values.min() >= 1e-5 and values.max() <= 1e-1
    assert np.mean(values) > 5 * np.median(values)  # a uniform draw would have mean ~ median


def test_log_int_median_near_geometric_mean():
    p = Int("batch", 1, 1024, log=True)
    g = rng(2)
    values = np.array([p.sample(g) for _ in range(4000)])
    assert all(type(v) is int for v in values.tolist())
    assert 20 <= np.median(values) <= 45  # sqrt(0.5 * 1024.5) ~ 22.6 .. sqrt(1024) = 32
    assert values.min() >= 1 and values.max() <= 1024
    assert (values == 1).sum() > (values == 1000).sum()


def test_int_samples_cover_every_value_uniformly():
    p = Int("k", -2, 2)
    g = rng(3)
    values = [p.sample(g) for _ in range(5000)]
    assert all(type(v) is int for v in values)
    counts = np.bincount(np.array(values) + 2)
    assert len(counts) == 5 and counts.min() > 850


def test_categorical_and_ordinal_samples_are_choices():
    c = Categorical("c", ("a", 1, 2.5, True))
    o = Ordinal("o", (8, 16, 32))
    g = rng(4)
    assert {repr(c.sample(g)) for _ in range(400)} == {"'a'", "1", "2.5", "True"}
    assert {o.sample(g) for _ in range(400)} == {8, 16, 32}


def test_float_unit_ends_are_exact():
    p = Float("a", 0.1, 0.7)
    assert p.from_unit(0.0) == 0.1
    assert p.from_unit(1.0) == 0.7
    assert p.from_unit(-3.0) == 0.1
    assert p.from_unit(7.0) == 0.7
    assert p.to_unit(0.1) == 0.0 and p.to_unit(0.7) == 1.0
    q = Float("lr", 1e-4, 1e-1, log=True)
    assert q.from_unit(0.0) == 1e-4 and q.from_unit(1.0) == 1e-1
    assert q.to_unit(1e-4) == 0.0 and q.to_unit(1e-1) == 1.0
    assert q.to_unit(1e-2) == pytest.approx(2 / 3)


def test_float_from_unit_never_leaves_range():
    p = Float("a", 0.1, 0.3)
    for u in np.linspace(0, 1, 1001):
        assert 0.1 <= p.from_unit(u) <= 0.3
    q = Float("b", 3e-7, 0.3, log=True)
    for u in np.linspace(0, 1, 1001):
        assert 3e-7 <= q.from_unit(u) <= 0.3


@pytest.mark.parametrize(
    "param",
    [Int("k", -3, 9), Int("k", 1, 1000, log=True), Int("k", 5, 6, log=True), Int("k", 0, 1)],
)
def test_int_unit_round_trip_is_exact_and_every_u_decodes(param):
    for v in range(param.low, param.high + 1):
        u = param.to_unit(v)
        assert 0.0 < u < 1.0
        assert param.from_unit(u) == v
    decoded = {param.from_unit(u) for u in np.linspace(0, 1, 20001)}
    assert decoded == set(range(param.low, param.high + 1))


def test_int_unit_round_trip_at_the_largest_allowed_bounds():
    big = Int("seed", -(2**48), 2**48)
    for v in (-(2**48), -1, 0, 1, 2**47 + 12345, 2**48 - 1, 2**48):
        assert big.from_unit(big.to_unit(v)) == v
    logbig = Int("n", 1, 2**32, log=True)
    for v in (1, 2, 3, 1000, 2**31 + 7, 2**32 - 1, 2**32):
        assert logbig.from_unit(logbig.to_unit(v)) == v


def test_linear_int_bins_have_equal_width():
    p = Int("k", 0, 3)
    assert [p.to_unit(v) for v in range(4)] == [0.125, 0.375, 0.625, 0.875]
    assert [p.from_unit(u) for u in (0.0, 0.2499, 0.25, 0.74, 0.75, 1.0)] == [0, 0, 1, 2, 3, 3]


def test_listed_unit_encoding():
    c = Categorical("c", ("a", "b", "c", "d"))
    assert [c.to_unit(x) for x in "abcd"] == [0.125, 0.375, 0.625, 0.875]
    decoded = [c.from_unit(u) for u in (0.0, 0.25, 0.5, 0.99, 1.0, 1.5, -1.0)]
    assert decoded == ["a", "b", "c", "d", "d", "d", "a"]
    o = Ordinal("o", (32, 64, 128))
    assert o.from_unit(o.to_unit(64)) == 64
    assert o.index(128) == 2


def test_from_unit_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        Float("a", 0, 1).from_unit(float("nan"))


def test_contains_is_type_exact():
    c = Categorical("c", (1, "1", 2.5, False))
    assert c.contains(1) and c.contains("1") and c.contains(2.5) and c.contains(False)
    assert not c.contains(True)
    assert not c.contains(1.0)
    assert not c.contains(0)
    assert c.contains(np.int64(1))
    i = Int("k", 0, 5)
    assert i.contains(3) and i.contains(np.int32(3))
    assert not i.contains(3.0) and not i.contains(True) and not i.contains(6)
    f = Float("f", 0, 1)
    assert f.contains(1) and f.contains(0.5) and f.contains(np.float32(0.5))
    assert not f.contains(True) and not f.contains("0.5") and not f.contains(float("nan"))


def test_per_param_to_unit_rejects_bad_values():
    with pytest.raises(ConfigError) as err:
        Int("k", 0, 5).to_unit(9)
    assert err.value.field == "config.k"
    with pytest.raises(ConfigError):
        Categorical("c", ("a",)).to_unit("b")


# ----------------------------------------------------------------------------- constructors


@pytest.mark.parametrize(
    ("make", "field", "words"),
    [
        (lambda: Float("a", 1.0, 1.0), "space.a.low", "less than"),
        (lambda: Float("a", 2.0, 1.0), "space.a.low", "less than"),
        (lambda: Float("a", 0.0, 1.0, log=True), "space.a.low", "log"),
        (lambda: Float("a", "0", 1.0), "space.a.low", "number"),  # type: ignore[arg-type]
        (lambda: Float("a", 0.0, True), "space.a.high", "number"),
        (lambda: Float("a", 0.0, math.inf), "space.a.high", "finite"),
        (lambda: Float("a", -1e308, 1e308), "space.a.low", "overflow"),
        (lambda: Float("a", 0.0, 1.0, log="yes"), "space.a.log", "true or false"),  # type: ignore[arg-type]
        (lambda: Int("a", 1.0, 4), "space.a.low", "integer"),  # type: ignore[arg-type]
        (lambda: Int("a", 1, 4.5), "space.a.high", "integer"),  # type: ignore[arg-type]
        (lambda: Int("a", 0, 4, log=True), "space.a.low", "log"),
        (lambda: Int("a", 3, 3), "space.a.low", "less than"),
        (lambda: Int("a", 0, 2**49), "space.a.high", "too large"),
        (lambda: Int("a", 1, 2**33, log=True), "space.a.high", "too large"),
        (lambda: Categorical("a", ()), "space.a.choices", "empty"),
        (lambda: Categorical("a", ("x", "x")), "space.a.choices", "twice"),
        (lambda: Categorical("a", (1, 1.0)), "space.a.choices", "twice"),
        (lambda: Categorical("a", "xy"), "space.a.choices", "list"),  # type: ignore[arg-type]
        (lambda: Categorical("a", (None,)), "space.a.choices", "strings"),
        (lambda: Categorical("a", (math.nan,)), "space.a.choices", "finite"),
        (lambda: Ordinal("a", (1, 2, 1)), "space.a.values", "twice"),
        (lambda: Float("", 0.0, 1.0), "space", "name"),
        (lambda: Float("a", 0.0, 1.0, condition=("b", ("x",))), "space.a.when", "Condition"),  # type: ignore[arg-type]
    ],
)
def test_constructor_errors_name_the_field(make, field, words):
    with pytest.raises(ConfigError) as err:
        make()
    assert err.value.field == field
    assert words in str(err.value)
    assert err.value.exit_code == 2


def test_true_and_1_are_distinct_choices():
    c = Categorical("c", (1, True))
    assert c.index(1) == 0 and c.index(True) == 1


def test_params_are_hashable_and_compare_by_value():
    assert Float("a", 0, 1) == Float("a", 0.0, 1.0)
    assert hash(Int("b", 1, 3)) == hash(Int("b", 1, 3))
    assert Categorical("c", ["x"]) == Categorical("c", ("x",))
    assert Float("a", 0, 1) != Float("a", 0, 1, log=False, condition=Condition("p", ("x",)))


# ----------------------------------------------------------------------------- the space


def test_space_container_protocol():
    s = SearchSpace.from_dict(tomllib.loads(STUDY_SPACE))
    assert s.names == ("lr", "layers", "activation", "width", "optimizer", "momentum")
    assert s.dim == len(s) == 6
    assert [p.name for p in s] == list(s.names)
    assert s.params[0] is s["lr"]
    assert "lr" in s and "nope" not in s
    with pytest.raises(KeyError, match="nope"):
        s["nope"]


def test_space_orders_parents_before_children_stably():
    s = nested_space()
    assert s.names == ("optimizer", "momentum_kind", "gamma", "batch")
    flat = SearchSpace([Float("b", 0, 1), Float("a", 0, 1)])
    assert flat.names == ("b", "a")


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ([Float("a", 0, 1), Int("a", 0, 1)], "space.a", "twice"),
        ([Float("a", 0, 1, condition=Condition("zz", ("x",)))], "space.a.when", "zz"),
        (
            [Float("p", 0, 1), Int("a", 0, 1, condition=Condition("p", (0.5,)))],
            "space.a.when",
            "float",
        ),
        ([Int("p", 0, 3), Int("a", 0, 1, condition=Condition("p", (4,)))], "space.a.when", "4"),
        ([Int("p", 0, 3), Int("a", 0, 1, condition=Condition("p", (1.0,)))], "space.a.when", "1.0"),
        (
            [
                Categorical("a", ("x", "y"), Condition("b", ("u",))),
                Categorical("b", ("u", "v"), Condition("a", ("x",))),
            ],
            "space.a.when",
            "cycle",
        ),
        ([Categorical("a", ("x",), Condition("a", ("x",)))], "space.a.when", "cycle"),
        (["lr"], "space", "Float"),
    ],
)
def test_space_structure_errors(params, field, words):
    with pytest.raises(ConfigError) as err:
        SearchSpace(params)
    assert err.value.field == field
    assert words in str(err.value)


def test_space_rejects_a_string_instead_of_a_list():
    with pytest.raises(ConfigError):
        SearchSpace("lr")


def test_int_and_ordinal_parents_are_allowed():
    s = SearchSpace(
        [
            Int("layers", 1, 3),
            Float("l3_dropout", 0, 0.5, condition=Condition("layers", (3,))),
            Ordinal("width", (32, 64)),
            Float("wide_lr", 0.1, 1, condition=Condition("width", (64,))),
        ]
    )
    assert s.is_active("l3_dropout", {"layers": 3})
    assert not s.is_active("l3_dropout", {"layers": 2})
    assert s.is_active("wide_lr", {"width": 64})
    assert not s.is_active("wide_lr", {"width": 32})


def test_sample_omits_inactive_and_returns_plain_types():
    s = nested_space()
    g = rng(5)
    seen_keys = set()
    for _ in range(300):
        c = s.sample(g)
        s.validate(c)
        seen_keys.add(frozenset(c))
        assert set(map(type, c.values())) <= {float, int, str, bool}
        assert ("momentum_kind" in c) == (c["optimizer"] == "sgd")
        assert ("gamma" in c) == (c.get("momentum_kind") == "nesterov")
    assert len(seen_keys) == 3  # adam; sgd+plain; sgd+nesterov


def test_same_seed_same_samples_and_different_seed_differs():
    s = SearchSpace.from_dict(tomllib.loads(STUDY_SPACE))
    a = [s.sample(rng(42)) for _ in range(3)]
    b = [s.sample(rng(42)) for _ in range(3)]
    assert a == b
    g1, g2 = rng(7), rng(7)
    assert [s.sample(g1) for _ in range(20)] == [s.sample(g2) for _ in range(20)]
    g3 = rng(8)
    assert [s.sample(g3) for _ in range(20)] != [s.sample(rng(7)) for _ in range(20)]


def test_is_active_requires_the_whole_chain():
    s = nested_space()
    assert s.is_active("optimizer", {})
    assert s.is_active("gamma", {"optimizer": "sgd", "momentum_kind": "nesterov"})
    # parent value present but the parent itself is inactive
    assert not s.is_active("gamma", {"optimizer": "adam", "momentum_kind": "nesterov"})
    assert not s.is_active("gamma", {"optimizer": "sgd", "momentum_kind": "plain"})
    assert not s.is_active("gamma", {"optimizer": "sgd"})
    assert not s.is_active("momentum_kind", {"optimizer": ["unhashable"]})


def test_to_unit_nan_for_inactive_and_from_unit_ignores_their_coordinates():
    s = nested_space()
    config = {"optimizer": "adam", "batch": 64}
    u = s.to_unit(config)
    assert u.dtype == np.float64 and u.shape == (4,)
    assert np.isnan(u[1]) and np.isnan(u[2])
    assert u[0] == 0.75 and 0 < u[3] < 1
    assert s.from_unit(u) == config


def test_from_unit_nested_conditions():
    s = nested_space()
    u = np.array([0.1, 0.9, 1.0, 0.0])  # sgd, nesterov, gamma=high, batch=low
    assert s.from_unit(u) == {
        "optimizer": "sgd",
        "momentum_kind": "nesterov",
        "gamma": 0.9,
        "batch": 16,
    }
    u_plain = np.array([0.1, 0.2, np.nan, 0.5])
    assert "gamma" not in s.from_unit(u_plain)


def test_from_unit_clips_and_checks_shape_and_nan():
    s = nested_space()
    c = s.from_unit(np.array([-5.0, 7.0, np.inf, -np.inf]))
    assert c == {"optimizer": "sgd", "momentum_kind": "nesterov", "gamma": 0.9, "batch": 16}
    with pytest.raises(ValueError, match="shape"):
        s.from_unit(np.zeros(3))
    with pytest.raises(ValueError, match="optimizer"):
        s.from_unit(np.array([np.nan, 0.5, 0.5, 0.5]))


def test_unit_round_trip_of_samples():
    s = SearchSpace.from_dict(tomllib.loads(STUDY_SPACE))
    g = rng(9)
    for _ in range(200):
        c = s.sample(g)
        u = s.to_unit(c)
        assert np.all((u[~np.isnan(u)] >= 0) & (u[~np.isnan(u)] <= 1))
        back = s.from_unit(u)
        assert back.keys() == c.keys()
        for name, value in c.items():
            if s[name].kind == "float":
                assert back[name] == pytest.approx(value, rel=1e-12)
            else:
                assert back[name] == value and type(back[name]) is type(value)


@pytest.mark.parametrize(
    ("config", "field", "words"),
    [
        ({"optimizer": "adam", "batch": 32, "extra": 1}, "config.extra", "unknown"),
        ({"optimizer": "adam"}, "config.batch", "missing"),
        ({"optimizer": "sgd", "batch": 32}, "config.momentum_kind", "missing"),
        (
            {"optimizer": "adam", "batch": 32, "momentum_kind": "plain"},
            "config.momentum_kind",
            "inactive",
        ),
        (
            {"optimizer": "sgd", "momentum_kind": "plain", "gamma": 0.5, "batch": 32},
            "config.gamma",
            "inactive",
        ),
        ({"optimizer": "adam", "batch": 32.0}, "config.batch", "integer"),
        ({"optimizer": "adam", "batch": 300}, "config.batch", "outside"),
        ({"optimizer": "rmsprop", "batch": 32}, "config.optimizer", "not one of"),
        (
            {"optimizer": "sgd", "momentum_kind": "nesterov", "gamma": "0.5", "batch": 32},
            "config.gamma",
            "number",
        ),
        (
            {"optimizer": "sgd", "momentum_kind": "nesterov", "gamma": 0.95, "batch": 32},
            "config.gamma",
            "outside",
        ),
    ],
)
def test_validate_errors(config, field, words):
    s = nested_space()
    with pytest.raises(ConfigError) as err:
        s.validate(config)
    assert err.value.field == field
    assert words in str(err.value)
    with pytest.raises(ConfigError):
        s.to_unit(config)


def test_validate_accepts_numpy_scalars_and_rejects_non_mappings():
    s = nested_space()
    s.validate({"optimizer": np.str_("adam"), "batch": np.int64(32)})
    with pytest.raises(ConfigError) as err:
        s.validate([("optimizer", "adam")])
    assert err.value.field == "config"


def test_space_equality_and_hash():
    a = SearchSpace.from_dict(tomllib.loads(STUDY_SPACE))
    b = SearchSpace.from_dict(tomllib.loads(STUDY_SPACE))
    assert a == b and hash(a) == hash(b)
    assert a != SearchSpace([Float("lr", 1e-4, 1e-1, log=True)])
    assert a != "space"


# ----------------------------------------------------------------------------- dict form


def test_from_dict_parses_the_study_file_example():
    s = SearchSpace.from_dict(tomllib.loads(STUDY_SPACE))
    assert s["lr"] == Float("lr", 1e-4, 1e-1, log=True)
    assert s["layers"] == Int("layers", 1, 4)
    assert s["activation"] == Categorical("activation", ("relu", "tanh"))
    assert s["width"] == Ordinal("width", (32, 64, 128))
    assert s["momentum"].condition == Condition("optimizer", ("sgd",))


def test_to_dict_round_trip_through_json_and_toml_shape():
    for s in (SearchSpace.from_dict(tomllib.loads(STUDY_SPACE)), nested_space()):
        d = s.to_dict()
        again = SearchSpace.from_dict(json.loads(json.dumps(d)))
        assert again == s
        assert again.names == s.names


def test_from_dict_accepts_a_single_when_value_and_a_custom_prefix():
    s = SearchSpace.from_dict(
        {
            "opt": {"type": "categorical", "choices": ["sgd", "adam"]},
            "m": {"type": "float", "low": 0, "high": 1, "when": {"opt": "sgd"}},
        }
    )
    assert s["m"].condition == Condition("opt", ("sgd",))
    with pytest.raises(ConfigError) as err:
        SearchSpace.from_dict({"lr": {"type": "float", "low": 1, "high": 0}}, prefix="study.space")
    assert err.value.field == "study.space.lr.low"


FROM_DICT_MISTAKES = [
    # (table, field, words in the message) -- one per kind of mistake
    ({}, "space", "no hyperparameters"),
    ([1, 2], "space", "table"),
    ({"lr": 0.1}, "space.lr", "table"),
    ({"lr": {"low": 0, "high": 1}}, "space.lr.type", "missing"),
    ({"lr": {"type": "real", "low": 0, "high": 1}}, "space.lr.type", "float, int, categorical"),
    ({"lr": {"type": "float", "low": 0, "high": 1, "scale": "log"}}, "space.lr.scale", "allowed"),
    ({"a": {"type": "categorical", "values": ["x"]}}, "space.a.values", "choices"),
    ({"lr": {"type": "float", "high": 1}}, "space.lr.low", "missing"),
    ({"lr": {"type": "float", "low": "1e-4", "high": 1}}, "space.lr.low", "number"),
    ({"lr": {"type": "float", "low": 0, "high": True}}, "space.lr.high", "number"),
    ({"n": {"type": "int", "low": 1.0, "high": 4}}, "space.n.low", "integer"),
    ({"lr": {"type": "float", "low": 1, "high": 1}}, "space.lr.low", "less than"),
    ({"n": {"type": "int", "low": 5, "high": 4}}, "space.n.low", "less than"),
    ({"lr": {"type": "float", "low": 0, "high": 1, "log": True}}, "space.lr.low", "log"),
    (
        {"lr": {"type": "float", "low": 1, "high": 2, "log": "true"}},
        "space.lr.log",
        "true or false",
    ),
    ({"a": {"type": "categorical", "choices": []}}, "space.a.choices", "empty"),
    ({"a": {"type": "categorical", "choices": ["x", "x"]}}, "space.a.choices", "twice"),
    ({"a": {"type": "categorical", "choices": "x"}}, "space.a.choices", "list"),
    ({"w": {"type": "ordinal", "values": [1, 2, 2]}}, "space.w.values", "twice"),
    ({"w": {"type": "ordinal", "values": [[1]]}}, "space.w.values", "strings"),
    (
        {"m": {"type": "float", "low": 0, "high": 1, "when": {"opt": ["sgd"]}}},
        "space.m.when",
        "not a hyperparameter",
    ),
    (
        {
            "opt": {"type": "categorical", "choices": ["sgd"]},
            "m": {"type": "float", "low": 0, "high": 1, "when": {"opt": ["adam"]}},
        },
        "space.m.when",
        "not a value",
    ),
    (
        {
            "a": {"type": "categorical", "choices": ["x"]},
            "b": {"type": "categorical", "choices": ["y"]},
            "m": {"type": "float", "low": 0, "high": 1, "when": {"a": ["x"], "b": ["y"]}},
        },
        "space.m.when",
        "exactly one parent",
    ),
    (
        {
            "opt": {"type": "categorical", "choices": ["sgd"]},
            "m": {"type": "float", "low": 0, "high": 1, "when": {"opt": []}},
        },
        "space.m.when",
        "empty",
    ),
    ({"m": {"type": "float", "low": 0, "high": 1, "when": "opt"}}, "space.m.when", "table"),
]


@pytest.mark.parametrize(("table", "field", "words"), FROM_DICT_MISTAKES)
def test_from_dict_mistakes_name_the_field(table, field, words):
    with pytest.raises(ConfigError) as err:
        SearchSpace.from_dict(table)
    assert err.value.field == field
    assert words in str(err.value)
    assert str(err.value).startswith(field + ":")


def test_from_dict_type_mistake_lists_allowed_types():
    with pytest.raises(ConfigError) as err:
        SearchSpace.from_dict({"lr": {"type": "real"}})
    assert err.value.fix is not None
    for kind in ("float", "int", "categorical", "ordinal"):
        assert kind in err.value.fix
