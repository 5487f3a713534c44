"""Population-based training on the simulated backend: an exploiting trial continues from the
donor's resource (its own configuration's curve from there, at the cost of those epochs only)."""

from __future__ import annotations

from collections import defaultdict

from slurmhpo.bench.harness import Method, simulate
from slurmhpo.bench.registry import get_task

TASK = "synthetic/hartmann3-mf"  # maximised, r_max 27, no data needed
SMALL = Method(
    "pbt-small",
    {"type": "pbt", "population_size": 8, "perturbation_interval": 3},
    wake="targets",
)


def test_exploiting_trials_start_at_the_donors_boundary_and_train_only_the_rest() -> None:
    task = get_task(TASK)
    run = simulate(task, SMALL, 0, workers=4, budget=1e6)  # enough for every lineage to end
    epochs: dict[int, list[int]] = defaultdict(list)
    for report in run.reports:
        epochs[report.trial].append(report.resource)
    first = {trial: min(seen) for trial, seen in epochs.items()}
    exploiters = [t for t, r in first.items() if r > 1]
    assert exploiters, "nobody exploited"
    assert all((first[t] - 1) % 3 == 0 for t in exploiters)  # a boundary 3k, then 3k + 1
    for seen in epochs.values():  # each resource once, consecutive from where it started
        assert seen == list(range(seen[0], seen[-1] + 1))
    # eight lineages of 27 epochs: an exploit continues a lineage instead of retraining it
    assert run.epochs == 8 * task.r_max == sum(len(seen) for seen in epochs.values())
    assert run.trials == 8 + len(exploiters)
