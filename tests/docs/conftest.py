"""Fixtures of the docs tests: toy studies in the states the examples need.

The examples name the digits study (``digits-mlp``, ``docs/examples/digits_mlp.toml``); a real
digits study takes minutes, so the tests write a toy study (tests/controller/toy_trial.py, a
deterministic curve in milliseconds) under the same name and swap the file path. The study
file helper lives in tests/controller/controller_helpers.py; tests/ is not a package, so its
folder is put on sys.path here, as tests/ops/conftest.py does.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

CONTROLLER_TESTS = Path(__file__).resolve().parents[1] / "controller"
if str(CONTROLLER_TESTS) not in sys.path:
    sys.path.insert(0, str(CONTROLLER_TESTS))

from controller_helpers import study_toml  # noqa: E402
from docs_helpers import DocsWorld, shell  # noqa: E402

# 14 trials so that the README's `slurmhpo trial digits-mlp 12` names a real trial.
FINISHED_BUDGET = {"max_trials": 14, "max_concurrent": 3}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocsWorld]:
    """A finished toy ``digits-mlp`` study and a registered (never driven) one, once per
    module; each test gets its own copy of a database (see DocsWorld.fresh)."""
    root = tmp_path_factory.mktemp("docs-world")
    files = {}
    for kind in ("finished", "registered"):
        # Separate folders: each study's per-trial files live under its own runs_dir.
        (root / kind).mkdir()
        files[kind] = study_toml(
            root / kind, name="digits-mlp", budget=FINISHED_BUDGET, resource_max=3
        )
    world = DocsWorld(root, files["finished"], files["registered"])
    world.home.mkdir()
    run = f"slurmhpo run {world.finished_file} --poll-interval 0.2 -q"
    done = shell(run, world.env(world.finished_db), cwd=root)
    assert done.returncode == 0 and "finished" in done.stdout, done.stderr
    done = shell(f"slurmhpo submit {world.registered_file}", world.env(world.registered_db), root)
    assert done.returncode == 0 and done.stdout.strip() == "digits-mlp", done.stderr
    yield world
    shutil.rmtree(root, ignore_errors=True)
