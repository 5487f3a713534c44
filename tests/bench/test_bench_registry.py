"""Tasks by name, and the budget of a task that needs no data."""

from __future__ import annotations

import pytest

from slurmhpo.bench import get_task, list_tasks, reference_budget
from slurmhpo.bench.synthetic import SyntheticTask
from slurmhpo.errors import ConfigError


def test_list_tasks_names_synthetic_and_lcbench_development_tasks() -> None:
    names = list_tasks()
    assert "synthetic/branin-mf" in names
    assert "synthetic/hartmann6-mf" in names
    assert "lcbench/3945" in names and "lcbench/168868" in names


def test_get_task_builds_synthetic_tasks_with_options() -> None:
    task = get_task("synthetic/hartmann3-mf", r_max=9, seed=2)
    assert isinstance(task, SyntheticTask)
    assert (task.name, task.r_max, task.seed, task.mode) == ("synthetic/hartmann3-mf", 9, 2, "max")


@pytest.mark.parametrize("name", ["lcbench", "synthetic/nope", "nasbench/1", ""])
def test_unknown_names_list_the_known_ones(name: str) -> None:
    with pytest.raises(ConfigError, match="synthetic/branin-mf") as info:
        get_task(name)
    assert info.value.field == "task"


def test_unknown_option_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="colour"):
        get_task("synthetic/branin-mf", colour="red")


def test_synthetic_budget_is_deterministic() -> None:
    first = reference_budget(get_task("synthetic/branin-mf"))
    again = reference_budget(get_task("synthetic/branin-mf"))
    assert first == again
    assert first.sampler == "space:0"
    assert first.seconds == pytest.approx(50 * first.median_full_time / 4)


def test_budget_sampler_is_checked() -> None:
    task = get_task("synthetic/branin-mf")
    with pytest.raises(ConfigError):
        reference_budget(task, sampler="sobol")
    with pytest.raises(ConfigError, match="lcbench"):
        reference_budget(task, sampler="yahpo")
