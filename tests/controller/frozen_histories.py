"""Frozen decision histories: what today's schedulers decide in a small simulated study.

Running studies are rebuilt after every restart by replaying their stored decisions. A change
to a scheduler, a searcher or the controller's order of work that alters those decisions would
break the replay of studies that are running now (``ReplayMismatch``), or silently change what
the next study decides. The histories under ``frozen/`` were recorded once from the code of
their commit; ``test_frozen_histories.py`` re-runs the same studies and replays the stored ones.

Regenerate (only for a change that is MEANT to alter decisions, and say so in the commit):
``python -m tests.controller.frozen_histories [METHOD ...]`` (a new method: name only it).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from slurmhpo.backends.simulated import SimClock, SimulatedBackend
from slurmhpo.bench.harness import Method, study_spec
from slurmhpo.bench.registry import get_task
from slurmhpo.bench.runner import METHODS
from slurmhpo.controller.build import build_controller
from slurmhpo.controller.studies import register_study
from slurmhpo.store.db import make_engine, read_session
from slurmhpo.store.models import Base
from slurmhpo.store.queries import get_study, list_decisions

FROZEN_DIR = Path(__file__).parent / "frozen"
TASK = "synthetic/branin-mf"
SEED = 3
WORKERS = 4
MAX_TRIALS = 30
BUDGET_SECONDS = 1e7  # large: the studies end by their trial limit
FROZEN_METHODS = (
    "random",
    "asha-stopping",
    "asha-promotion",
    "hyperband",
    "hyperband-stopping",
    "bohb-sync",
    "bohb-async",
    "bohb-async-stopping",
    "median",
    "pbt-small",
    "curve",
)
# Frozen methods that are no benchmark method: population-based training with a population
# that leaves room for replacements under MAX_TRIALS (the bench's pbt starts 32).
FROZEN_ONLY = {
    "pbt-small": Method(
        "pbt-small",
        {"type": "pbt", "population_size": 8, "perturbation_interval": 3},
        wake="targets",
    ),
}


def method_of(name: str) -> Method:
    """The frozen method called ``name``."""
    return FROZEN_ONLY.get(name) or METHODS[name]


def record(method_name: str, *, continue_in_place: bool = False) -> list[dict[str, Any]]:
    """Run the method's small simulated study; its decision log as kind/payload/reason dicts.

    ``continue_in_place`` runs the same study with ``[trial] continue_in_place``: with no
    queue wait a job handed its next segment starts it when a new job would, so the
    decisions must be the same.
    """
    task = get_task(TASK, r_max=27)
    method = method_of(method_name)
    with tempfile.TemporaryDirectory(prefix="slurmhpo-frozen-") as tmp:
        root = Path(tmp)
        engine = make_engine(f"sqlite:///{root / 'frozen.db'}")
        try:
            Base.metadata.create_all(engine)
            spec = study_spec(
                task, method, SEED, WORKERS, BUDGET_SECONDS, root, MAX_TRIALS, continue_in_place
            )
            spec = register_study(engine, spec)
            clock = SimClock(deadline=BUDGET_SECONDS)
            wake = method.wake_resources(task.r_min, task.r_max)
            backend = SimulatedBackend(task, clock, WORKERS, wake)
            build_controller(
                engine, spec.name, backend=backend, poll_interval=0.0, lease_ttl=1e5, clock=clock
            ).run()
            with read_session(engine) as session:
                rows = list_decisions(session, get_study(session, spec.name))
                return [{"kind": d.kind, "payload": d.payload, "reason": d.reason} for d in rows]
        finally:
            engine.dispose()


def frozen_file(method_name: str) -> Path:
    return FROZEN_DIR / f"{method_name}.json"


def main(names: list[str]) -> None:
    """Record the histories of ``names`` (all frozen methods if empty)."""
    FROZEN_DIR.mkdir(exist_ok=True)
    for name in names or FROZEN_METHODS:
        history = record(name)
        frozen_file(name).write_text(json.dumps(history, indent=None, sort_keys=True) + "\n")
        print(f"{name}: {len(history)} decisions", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
