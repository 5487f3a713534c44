"""Cost of the KDE searcher as observations pile up (a benchmark, not a test).

Run: ``python tests/scheduling/bench_kde_cost.py [--sizes 100 10000 100000]``. For each size it
feeds that many observations at the top resource of a 7-parameter space shaped like lcbench's,
keeps 4 trials pending (W = 4 workers), and prints the time per ``observe`` and per ``suggest``:
once with the model already fitted (no new data since the last suggestion) and once right after
a new observation at the model resource (so the suggestion pays for the refit).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from slurmhpo.scheduling.searchers import KDESearcher, KDESettings
from slurmhpo.space import Float, Int, SearchSpace


def lcbench_like_space() -> SearchSpace:
    return SearchSpace(
        [
            Int("batch_size", 16, 512, log=True),
            Float("learning_rate", 1e-4, 1e-1, log=True),
            Float("max_dropout", 0.0, 1.0),
            Int("max_units", 64, 1024, log=True),
            Float("momentum", 0.1, 0.99),
            Int("num_layers", 1, 5),
            Float("weight_decay", 1e-5, 1e-1),
        ]
    )


def measure(n: int, repeats: int = 20) -> dict[str, float]:
    space = lcbench_like_space()
    rng = np.random.default_rng(0)
    searcher = KDESearcher(space, "max", rng, settings=KDESettings(random_fraction=0.0))
    configs = [space.sample(rng) for _ in range(n + repeats)]
    values = rng.random(n + repeats)
    start = time.perf_counter()
    for i in range(n):
        searcher.observe(i, configs[i], 52, float(values[i]))
    observe = (time.perf_counter() - start) / n
    for t in range(4):
        searcher.suggest(10_000_000 + t)  # pending trials, imputed as bad
    start = time.perf_counter()
    for t in range(repeats):
        searcher.suggest(20_000_000 + t)
        searcher.on_trial_end(20_000_000 + t)
    cached = (time.perf_counter() - start) / repeats
    start = time.perf_counter()
    for t in range(repeats):
        searcher.observe(n + t, configs[n + t], 52, float(values[n + t]))
        searcher.suggest(30_000_000 + t)
        searcher.on_trial_end(30_000_000 + t)
    refit = (time.perf_counter() - start) / repeats
    return {"observe": observe, "suggest_cached": cached, "suggest_after_new_data": refit}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10_000, 100_000])
    args = parser.parse_args()
    print(f"{'observations':>12} {'observe ms':>11} {'suggest ms':>11} {'after new data ms':>18}")
    for n in args.sizes:
        r = measure(n)
        print(
            f"{n:>12,} {1e3 * r['observe']:>11.3f} {1e3 * r['suggest_cached']:>11.2f}"
            f" {1e3 * r['suggest_after_new_data']:>18.2f}"
        )


if __name__ == "__main__":
    main()
