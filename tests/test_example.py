"""The digits example runs as slurmhpo would run it: real subprocesses, paused and resumed."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from slurmhpo.paths import TrialPaths
from slurmhpo.study import load_study
from slurmhpo.trial import TrialContext

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "docs" / "examples" / "digits_mlp.py"
STUDY_FILE = REPO / "docs" / "examples" / "digits_mlp.toml"
CONFIG = {
    "lr": 0.01,
    "hidden": 32,
    "layers": 1,
    "activation": "relu",
    "batch_size": 32,
    "alpha": 1e-4,
    "solver": "adam",
}


def run_segment(root: Path, start: int, target: int, trial: int = 5) -> list[dict]:
    """Run one job of the trial like the controller: env vars only; returns its stdout records."""
    paths = TrialPaths(root, "digits-mlp", trial)
    context = TrialContext.for_testing(CONFIG, target, root, start, study="digits-mlp", trial=trial)
    assert context.metric_file == paths.metric_file
    env = {**os.environ, **context.to_environ()}
    done = subprocess.run(
        [sys.executable, str(SCRIPT)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def import_example() -> ModuleType:
    """The example script as a module (its import has no side effects)."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import digits_mlp
    finally:
        sys.path.remove(str(SCRIPT.parent))
    return digits_mlp


def metric_records(root: Path, trial: int = 5) -> list[dict]:
    text = TrialPaths(root, "digits-mlp", trial).metric_file.read_text()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_pause_and_resume_continues_the_epochs(tmp_path: Path) -> None:
    first = run_segment(tmp_path, start=0, target=3)
    assert [r["epoch"] for r in first] == [1, 2, 3]
    second = run_segment(tmp_path, start=3, target=6)
    assert second[0]["epoch"] == 4  # resumed from the checkpoint, not from scratch
    records = metric_records(tmp_path)
    assert [r["epoch"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert records == first + second
    for record in records:
        assert set(record) == {"epoch", "val_loss", "val_accuracy", "train_loss", "time"}
        assert math.isfinite(record["val_loss"])
    assert records[-1]["val_loss"] < records[0]["val_loss"]
    assert records[-1]["val_accuracy"] > 0.9


def test_resumed_trial_trains_exactly_like_an_uninterrupted_one(tmp_path: Path) -> None:
    run_segment(tmp_path / "paused", start=0, target=2)
    run_segment(tmp_path / "paused", start=2, target=4)
    run_segment(tmp_path / "straight", start=0, target=4)
    paused = metric_records(tmp_path / "paused")
    straight = metric_records(tmp_path / "straight")
    assert [r["val_loss"] for r in paused] == [r["val_loss"] for r in straight]


def test_by_hand_fallback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURMHPO_")}
    bare = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, check=False
    )
    assert bare.returncode == 2 and "--workdir" in bare.stderr
    helped = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], env=env, capture_output=True, text=True
    )
    assert helped.returncode == 0 and "By hand" in helped.stdout
    by_hand = subprocess.run(
        [sys.executable, str(SCRIPT), "--workdir", str(tmp_path), "--target", "2"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert by_hand.returncode == 0, by_hand.stderr
    text = TrialPaths(tmp_path, "by-hand", 0).metric_file.read_text()
    assert [json.loads(line)["epoch"] for line in text.splitlines()] == [1, 2]


def test_study_file_matches_the_script() -> None:
    study = tomllib.loads(STUDY_FILE.read_text())
    assert set(study) == {
        "name",
        "objective",
        "resource",
        "scheduler",
        "searcher",
        "budget",
        "trial",
        "slurm",
        "space",
    }
    assert study["objective"] == {"metric": "val_loss", "mode": "min"}
    assert study["resource"]["name"] == "epoch"
    assert study["trial"]["command"] == ["python", "docs/examples/digits_mlp.py"]
    digits_mlp = import_example()
    assert set(study["space"]) <= set(digits_mlp.DEFAULTS)
    for name, spec in study["space"].items():
        assert spec["type"] in {"float", "int", "categorical", "ordinal"}, name
        for parent in spec.get("when", {}):
            assert parent in study["space"], f"{name} depends on unknown {parent}"


def test_unknown_hyperparameter_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown hyperparameters"):
        import_example().settings({"learning_rate": 0.1})


def test_study_file_loads_and_its_configs_fit_the_script() -> None:
    spec = load_study(STUDY_FILE)
    digits_mlp = import_example()
    rng = np.random.default_rng(0)
    for _ in range(20):
        config = json.loads(json.dumps(spec.space.sample(rng)))  # as the trial reads it
        digits_mlp.settings(config)
