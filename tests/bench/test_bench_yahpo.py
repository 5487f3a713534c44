"""Agreement with yahpo_gym itself, PEERS.md's budgets, and yahpo's global settings left alone.

yahpo-gym pins numpy<2, so it cannot share the main test environment: `deploy/run-tests` runs
this module alone in a second venv (.venv-yahpo, the ``yahpo`` extra) and leaves it out of
the main run. Without yahpo_gym, onnxruntime or the data it skips on a laptop and fails when
CI=true, like every test whose need the test command provides.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from slurmhpo.bench.budget import budget_from_configs, reference_budget
from slurmhpo.bench.lcbench import LCBenchTask, resolve_data_dir
from slurmhpo.bench.yahpo import benchmark_set, reference_configs
from slurmhpo.errors import ConfigError

PEERS = {  # benchmarks/PEERS.md: (median time(x, 52), B)
    "3945": (185.1, 2313.7),
    "7593": (949.2, 11865.4),
    "34539": (90.2, 1128.0),
    "126025": (99.2, 1240.2),
    "146212": (115.5, 1443.8),
    "168868": (171.4, 2142.5),
}
HOME_SETTINGS = Path("~/.config/yahpo_gym").expanduser()


@pytest.fixture(scope="module")
def yahpo_configuration(skip_or_fail_ci: Callable[[str], None]) -> ModuleType:
    """yahpo_gym's configuration module, once yahpo_gym, onnxruntime and the data are usable."""
    try:
        import onnxruntime  # noqa: F401
        import yahpo_gym.configuration as configuration
    except (ImportError, ValueError) as exc:  # ValueError: its ConfigSpace built for numpy 1
        skip_or_fail_ci(
            f"yahpo_gym is not usable here ({exc}); run deploy/run-tests, which tests this "
            "module in .venv-yahpo"
        )
        raise  # not reached: skip_or_fail_ci raises
    try:
        resolve_data_dir()
    except ConfigError as exc:
        skip_or_fail_ci(f"no YAHPO lcbench data: {exc}")
    return configuration


@pytest.fixture(autouse=True)
def _yahpo(yahpo_configuration: ModuleType) -> None:
    """Every test here needs yahpo_gym: see the module docstring."""


def snapshot(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


@pytest.mark.parametrize("instance", sorted(PEERS))
def test_budget_reproduces_peers(instance: str) -> None:
    median, budget = PEERS[instance]
    task = LCBenchTask(instance)
    result = reference_budget(task, sampler="yahpo")  # drawn now, not the stored median
    assert result.median_full_time == pytest.approx(median, rel=0.01)
    stored = reference_budget(task)  # what `slurmhpo bench` uses: the same number
    assert stored.median_full_time == pytest.approx(result.median_full_time, rel=1e-6)
    assert result.seconds == pytest.approx(budget, rel=0.01)
    assert (result.n_configs, result.workers, result.sampler) == (200, 4, "yahpo:0")


def test_curves_equal_yahpos_objective_function() -> None:
    """Same surrogate numbers as yahpo_gym; our time is its running maximum over epochs."""
    bench = benchmark_set("146212")
    task = LCBenchTask("146212")
    for config in reference_configs("146212", n=10, seed=1):
        rows = [{**config, "epoch": e, "OpenML_task_id": "146212"} for e in range(1, 53)]
        ref = bench.objective_function(rows)
        curve = task.evaluate(config)
        accuracy = np.array([r["val_accuracy"] for r in ref])
        time = np.maximum.accumulate(np.array([r["time"] for r in ref]))
        np.testing.assert_allclose(curve.metric, np.clip(accuracy, 0, 100), rtol=1e-6)
        np.testing.assert_allclose(curve.time, time, rtol=1e-6)


def test_reference_configs_follow_the_seed() -> None:
    first = reference_configs("3945", n=5, seed=0)
    assert first == reference_configs("3945", n=5, seed=0)
    assert first != reference_configs("3945", n=5, seed=1)
    assert all("OpenML_task_id" not in c for c in first)
    assert len(reference_configs("3945", n=1)) == 1


def test_yahpo_settings_file_of_the_user_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, yahpo_configuration: ModuleType
) -> None:
    """Neither yahpo's active settings file nor ~/.config/yahpo_gym changes, nor its object."""
    from yahpo_gym.local_config import LocalConfiguration

    settings = tmp_path / "yahpo_gym"
    settings.write_text("data_path: /somewhere/else\n")
    users = LocalConfiguration(settings_path=str(settings))
    monkeypatch.setattr(yahpo_configuration, "local_config", users)
    home_before = snapshot(HOME_SETTINGS)

    bench = benchmark_set("3945")
    reference_configs("3945", n=3)

    assert yahpo_configuration.local_config is users
    assert settings.read_text() == "data_path: /somewhere/else\n"
    assert snapshot(HOME_SETTINGS) == home_before
    assert Path(bench.config.config["basedir"]) == resolve_data_dir()


def test_global_yahpo_object_is_restored_and_home_untouched(
    yahpo_configuration: ModuleType,
) -> None:
    original = yahpo_configuration.local_config
    home_before = snapshot(HOME_SETTINGS)
    benchmark_set("7593")
    assert yahpo_configuration.local_config is original
    assert snapshot(HOME_SETTINGS) == home_before


def test_budget_from_explicit_configs() -> None:
    task = LCBenchTask("3945")
    configs = reference_configs("3945", n=3)
    times = sorted(task.cumulative_time(c, 52) for c in configs)
    result = budget_from_configs(task, configs, workers=2, full_trainings=10)
    assert result.median_full_time == pytest.approx(times[1])
    assert result.seconds == pytest.approx(10 * times[1] / 2)
