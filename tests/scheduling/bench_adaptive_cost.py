"""Decision cost of the adaptive scheduler with its multi-fidelity KDE (a benchmark, not a test).

Run ``python tests/scheduling/bench_adaptive_cost.py [--observations 1000]``. The scheduler is
built by the factory exactly as a study gets it (``type = "adaptive"``, searcher ``mf_kde``
with its defaults) on a 7-parameter space shaped like lcbench's, r = 1..52, eta 3. Four
simulated workers run its jobs on a synthetic learning curve, reporting every epoch, until the
scheduler has received the given number of observations (results at rung levels, the ones
its model keeps; the epochs between rungs are reported too, one ``on_result`` each). Printed: the
time of each kind of decision (``suggest``, ``on_result``) over the last 200 of each before
that point, mean and maximum, and the whole run's worst; ``suggest_cpu`` is the suggestions'
CPU time (process time), which a shared machine's other load does not inflate. A new-trial
suggestion is the expensive one: it recomputes the trust weights when results changed and
refits the KDE of every rung whose table changed, then scores the candidates against every
trusted rung.
"""

from __future__ import annotations

import argparse
import heapq
import time

import numpy as np
from bench_kde_cost import lcbench_like_space

from slurmhpo.scheduling.factory import make_scheduler
from slurmhpo.scheduling.types import Action, StartTrial

WINDOW = 200
R_MAX = 52
LEVELS = (1, 3, 9, 27, 52)  # the rung levels: results there are the model's observations


def curve(config: dict, epoch: int) -> float:
    """Accuracy-like, maximised: saturates with epochs, config-dependent, crossing curves."""
    lr = np.log10(config["learning_rate"])
    final = 90.0 - 8.0 * (lr + 2.5) ** 2 - 5.0 * config["max_dropout"]
    speed = 0.3 + 0.1 * config["num_layers"] - 0.2 * config["max_dropout"]
    return float(final * (1.0 - np.exp(-speed * epoch)))


def drive(observations: int) -> dict[str, list[float]]:
    spec = {
        "objective": {"metric": "acc", "mode": "max"},
        "resource": {"name": "epoch", "min": 1, "max": R_MAX},
        "scheduler": {"type": "adaptive"},
    }
    sched = make_scheduler(spec, lcbench_like_space(), seed=0)
    times: dict[str, list[float]] = {k: [] for k in ("suggest", "on_result", "suggest_cpu")}
    heap: list[tuple[int, int, int, int]] = []  # (epoch clock, trial, epoch, target)
    configs: dict[int, dict] = {}
    next_id, seen, clock = 0, 0, 0
    while seen < observations:
        while len(heap) < 4:
            began, cpu = time.perf_counter(), time.process_time()
            s = sched.suggest(next_id)
            times["suggest"].append(time.perf_counter() - began)
            times["suggest_cpu"].append(time.process_time() - cpu)
            assert s is not None
            if isinstance(s, StartTrial):
                configs[s.trial_id] = s.config
                next_id += 1
            heapq.heappush(
                heap, (clock + 1, s.trial_id, (s.start if s.kind == "resume" else 0) + 1, s.target)
            )
        clock, trial, epoch, target = heapq.heappop(heap)
        began = time.perf_counter()
        action = sched.on_result(trial, epoch, curve(configs[trial], epoch))
        times["on_result"].append(time.perf_counter() - began)
        seen += epoch in LEVELS
        if action is Action.CONTINUE:
            heapq.heappush(heap, (clock + 1, trial, epoch + 1, target))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--observations", type=int, nargs="+", default=[1000])
    args = parser.parse_args()
    for n in args.observations:
        began = time.perf_counter()
        times = drive(n)
        total = time.perf_counter() - began
        print(f"{n:,} observations ({total:.1f} s in all):")
        for kind, values in times.items():
            last = np.array(values[-WINDOW:]) * 1e3
            print(
                f"  {kind:9s} last {len(last)}: mean {last.mean():7.2f} ms, max {last.max():7.2f}"
                f" ms; whole run ({len(values)}): max {1e3 * max(values):7.2f} ms"
            )


if __name__ == "__main__":
    main()
