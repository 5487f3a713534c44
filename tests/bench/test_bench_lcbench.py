"""lcbench through YAHPO's surrogate: data lookup, curve contract, cache, PEERS.md budgets.

Tests that need onnxruntime (the ``bench`` extra) or the surrogate data (shared/data/yahpo)
skip without them on a laptop and fail when CI=true: the test command installs the extra and
CI has the data beside the checkout, so a missing one there is a defect, not a reason to skip.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from slurmhpo.bench.budget import reference_budget
from slurmhpo.bench.lcbench import DATA_ENV, LCBenchTask, instances, resolve_data_dir
from slurmhpo.bench.lcbench_budgets import REFERENCE_MEDIAN_FULL_TIME
from slurmhpo.errors import ConfigError

# benchmarks/PEERS.md: median time(x, 52) over YAHPO's 200 seeded configurations, and B.
PEERS = {
    "3945": (185.1, 2313.7),
    "7593": (949.2, 11865.4),
    "34539": (90.2, 1128.0),
    "126025": (99.2, 1240.2),
    "146212": (115.5, 1443.8),
    "168868": (171.4, 2142.5),
}
CONFIG = {
    "batch_size": 91,
    "learning_rate": 0.0031622777,
    "max_dropout": 0.5,
    "max_units": 256,
    "momentum": 0.545,
    "num_layers": 3,
    "weight_decay": 0.050005,
}


@pytest.fixture(scope="module")
def data_dir(skip_or_fail_ci: Callable[[str], None]) -> Path:
    """The YAHPO lcbench data (model, config space, encoding)."""
    try:
        return resolve_data_dir()
    except ConfigError as exc:
        skip_or_fail_ci(f"no YAHPO lcbench data: {exc}")
        raise  # not reached: skip_or_fail_ci raises


@pytest.fixture(scope="module")
def onnx(data_dir: Path, skip_or_fail_ci: Callable[[str], None]) -> Path:
    """The data directory, once onnxruntime (which runs the surrogate) is importable too."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        skip_or_fail_ci(f"onnxruntime (the bench extra) is not installed: {exc}")
    return data_dir


@pytest.fixture(scope="module")
def task(onnx: Path) -> LCBenchTask:
    return LCBenchTask("3945", data_dir=onnx)


def fake_data(root: Path) -> Path:
    (root / "lcbench").mkdir(parents=True)
    (root / "lcbench" / "model.onnx").write_bytes(b"")
    return root


# -- finding the data ----------------------------------------------------------------------


def test_argument_wins_over_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    given = fake_data(tmp_path / "given")
    monkeypatch.setenv(DATA_ENV, str(fake_data(tmp_path / "env")))
    assert resolve_data_dir(given) == given.resolve()


def test_environment_is_used_without_argument(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_ENV, str(fake_data(tmp_path)))
    assert resolve_data_dir() == tmp_path.resolve()


def test_the_lcbench_folder_itself_is_accepted(tmp_path: Path) -> None:
    root = fake_data(tmp_path)
    assert resolve_data_dir(root / "lcbench") == root.resolve()


def test_missing_data_names_the_argument_and_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "nothing"))
    with pytest.raises(ConfigError) as info:
        resolve_data_dir()
    assert info.value.field == DATA_ENV
    assert "data_dir" in str(info.value) and DATA_ENV in str(info.value)
    with pytest.raises(ConfigError, match=DATA_ENV) as info:
        resolve_data_dir(tmp_path)
    assert info.value.field == "data_dir"


# -- the task ------------------------------------------------------------------------------


def test_space_is_yahpos_without_epoch_and_instance(task: LCBenchTask) -> None:
    space = task.space()
    assert sorted(space) == sorted(CONFIG)
    assert space["learning_rate"] == {"type": "float", "low": 1e-4, "high": 0.1, "log": True}
    assert space["batch_size"] == {"type": "int", "low": 16, "high": 512, "log": True}
    assert space["max_units"] == {"type": "int", "low": 64, "high": 1024, "log": True}
    assert space["num_layers"] == {"type": "int", "low": 1, "high": 5}
    assert space["momentum"] == {"type": "float", "low": 0.1, "high": 0.99}
    assert (task.name, task.metric, task.mode, task.r_min, task.r_max) == (
        "lcbench/3945",
        "val_accuracy",
        "max",
        1,
        52,
    )


def test_time_is_cumulative_and_accuracy_a_percentage(task: LCBenchTask) -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        config = {
            "batch_size": int(np.exp(rng.uniform(np.log(16), np.log(512)))),
            "learning_rate": float(np.exp(rng.uniform(np.log(1e-4), np.log(0.1)))),
            "max_dropout": float(rng.uniform()),
            "max_units": int(np.exp(rng.uniform(np.log(64), np.log(1024)))),
            "momentum": float(rng.uniform(0.1, 0.99)),
            "num_layers": int(rng.integers(1, 6)),
            "weight_decay": float(rng.uniform(1e-5, 0.1)),
        }
        curve = task.evaluate(config)
        assert curve.time[0] > 0
        assert np.all(np.diff(curve.time) >= 0)
        assert curve.time[-1] > curve.time[0]
        assert np.all((curve.metric >= 0) & (curve.metric <= 100))


def test_epoch_slices_agree_with_the_full_curve(task: LCBenchTask) -> None:
    full = task.evaluate(CONFIG)
    part = task.evaluate(CONFIG, [52, 1, 27])
    np.testing.assert_array_equal(part.metric, full.metric[[51, 0, 26]])
    np.testing.assert_array_equal(part.time, full.time[[51, 0, 26]])
    assert task.cumulative_time(CONFIG, 0) == 0.0


def test_repeated_queries_are_served_from_the_cache(onnx: Path) -> None:
    task = LCBenchTask("7593", data_dir=onnx)
    first = task.evaluate(CONFIG, [1])
    for epoch in range(1, 53):
        task.evaluate(CONFIG, [epoch])
    assert task.backend_calls == 1
    assert task.evaluate(CONFIG, [1]).metric[0] == first.metric[0]


def test_other_metrics_carry_their_direction(onnx: Path) -> None:
    task = LCBenchTask("3945", metric="val_cross_entropy", data_dir=onnx)
    assert task.mode == "min"
    assert task.evaluate(CONFIG, [52]).metric[0] > 0
    with pytest.raises(ConfigError, match="val_accuracy"):
        LCBenchTask("3945", metric="time", data_dir=onnx)


def test_unknown_instance_is_refused(data_dir: Path) -> None:
    assert "3945" in instances(data_dir)
    with pytest.raises(ConfigError, match="3945") as info:
        LCBenchTask("12345", data_dir=data_dir)
    assert info.value.field == "instance"


def test_out_of_space_config_is_refused(task: LCBenchTask) -> None:
    with pytest.raises(ConfigError) as info:
        task.evaluate({**CONFIG, "num_layers": 6})
    assert info.value.field == "config.num_layers"


def test_lcbench_budget_from_our_own_sampler_is_close_to_peers(onnx: Path) -> None:
    """Without yahpo_gym a budget can still be had from slurmhpo's sampler, a few % off."""
    result = reference_budget(LCBenchTask("3945", data_dir=onnx), sampler="space")
    assert result.sampler == "space:0"
    assert result.seconds == pytest.approx(PEERS["3945"][1], rel=0.15)


@pytest.mark.parametrize("instance", sorted(PEERS))
def test_protocol_budgets_need_no_yahpo_gym(instance: str, onnx: Path) -> None:
    """PROTOCOL's B for lcbench comes from the stored medians (computed with YAHPO's sampler):
    it equals PEERS.md's B to 0.1 s, with only the bench extra installed."""
    result = reference_budget(LCBenchTask(instance, data_dir=onnx))
    assert result.sampler == "yahpo:0 (stored)"
    assert (result.n_configs, result.workers) == (200, 4)
    assert result.seconds == pytest.approx(PEERS[instance][1], abs=0.1)


def test_every_instance_has_a_stored_budget(data_dir: Path) -> None:
    assert sorted(REFERENCE_MEDIAN_FULL_TIME) == sorted(instances(data_dir))
