"""Train a small MLP on scikit-learn's bundled digits, one epoch at a time, under slurmhpo.

The resource is the epoch. Each epoch is one pass of mini-batch training over the training
split in a fresh shuffled order; after it the script checkpoints the model, then reports
``val_loss`` (log loss on a fixed held-out split), ``val_accuracy`` and ``train_loss``.
It stops after reporting ``SLURMHPO_TARGET_RESOURCE``. A resumed job
(``SLURMHPO_START_RESOURCE`` > 0) loads the checkpoint taken at that epoch and carries on
with the next one, so a trial paused at epoch 3 and resumed reports 1, 2, 3, then 4, 5, ...

Every random choice depends only on the trial number and the epoch, so a resumed trial
trains exactly as an uninterrupted one would.

Under slurmhpo:  the controller sets the SLURMHPO_* variables (see ``slurmhpo.trial``).
By hand:         python docs/examples/digits_mlp.py --workdir /tmp/digits --target 5 \\
                     --config '{"lr": 0.01, "hidden": 64}'
                 then look at /tmp/digits/by-hand/trials/trial-000000/metrics.jsonl.
                 Run again with --start 5 --target 8 to resume from the checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import log_loss
from sklearn.neural_network import MLPClassifier

from slurmhpo import trial

DEFAULTS: dict[str, Any] = {
    "lr": 1e-2,
    "hidden": 64,
    "layers": 1,
    "activation": "relu",
    "batch_size": 64,
    "alpha": 1e-4,
    "solver": "adam",
    "momentum": 0.9,
}
CLASSES = np.arange(10)
VALIDATION_SIZE = 360
SPLIT_SEED = 20_231_123  # the split is the same for every trial, so their losses compare


def settings(config: dict[str, Any]) -> dict[str, Any]:
    """The defaults overridden by ``config``; unknown keys are refused to catch typos early."""
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown hyperparameters {unknown}; known: {sorted(DEFAULTS)}")
    merged = {**DEFAULTS, **config}
    for key in ("hidden", "layers", "batch_size"):
        merged[key] = int(merged[key])
    for key in ("lr", "alpha", "momentum"):
        merged[key] = float(merged[key])
    return merged


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits scaled to [0, 1], split into train and validation with a fixed permutation."""
    digits = load_digits()
    features = digits.data / 16.0
    order = np.random.default_rng(SPLIT_SEED).permutation(len(features))
    train, val = order[:-VALIDATION_SIZE], order[-VALIDATION_SIZE:]
    return features[train], digits.target[train], features[val], digits.target[val]


def build_model(cfg: dict[str, Any], seed: int) -> MLPClassifier:
    """A fresh network; ``shuffle=False`` because :func:`train_one_epoch` shuffles itself."""
    return MLPClassifier(
        hidden_layer_sizes=(cfg["hidden"],) * cfg["layers"],
        activation=cfg["activation"],
        solver=cfg["solver"],
        alpha=cfg["alpha"],
        batch_size=cfg["batch_size"],
        learning_rate_init=cfg["lr"],
        momentum=cfg["momentum"],
        shuffle=False,
        random_state=seed,
    )


def train_one_epoch(model: MLPClassifier, x: np.ndarray, y: np.ndarray, seed: int, epoch: int):
    """One pass over the data in an order fixed by (seed, epoch), mini-batches of batch_size."""
    order = np.random.default_rng([seed, epoch]).permutation(len(x))
    model.partial_fit(x[order], y[order], classes=CLASSES)


def evaluate(model: MLPClassifier, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(log loss, accuracy) on the validation split; NaN loss if training diverged."""
    proba = model.predict_proba(x)
    if not np.all(np.isfinite(proba)):
        return float("nan"), 0.0
    loss = log_loss(y, proba, labels=CLASSES)
    accuracy = float(np.mean(CLASSES[np.argmax(proba, axis=1)] == y))
    return float(loss), accuracy


def run(ctx: trial.TrialContext) -> None:
    """Train from ``ctx.start`` (via its checkpoint) to ``ctx.target``, reporting every epoch."""
    cfg = settings(ctx.config)
    x_train, y_train, x_val, y_val = load_data()
    seed = ctx.trial
    resumed = ctx.load_checkpoint()
    if resumed is None:
        model, epoch = build_model(cfg, seed), 0
    else:
        state, epoch = resumed
        model = state["model"]
    while not ctx.should_stop(epoch):
        epoch += 1
        train_one_epoch(model, x_train, y_train, seed, epoch)
        val_loss, val_accuracy = evaluate(model, x_val, y_val)
        ctx.save_checkpoint({"model": model}, epoch)  # before the report: see slurmhpo.trial
        record = ctx.report(
            epoch=epoch,
            val_loss=val_loss,
            val_accuracy=val_accuracy,
            train_loss=float(model.loss_),
        )
        print(json.dumps(record), flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", help="by hand: directory for config, metrics, checkpoints")
    parser.add_argument("--target", type=int, default=5, help="by hand: last epoch (default 5)")
    parser.add_argument("--start", type=int, default=0, help="by hand: resume after this epoch")
    parser.add_argument("--config", default="{}", help="by hand: hyperparameters as JSON")
    args = parser.parse_args(argv)
    if not trial.running_under_slurmhpo() and args.workdir is None:
        parser.error("not started by slurmhpo (no SLURMHPO_* variables): pass --workdir DIR")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if trial.running_under_slurmhpo():
        ctx = trial.get_context()
    else:
        config = json.loads(args.config)
        ctx = trial.TrialContext.for_testing(config, args.target, args.workdir, start=args.start)
    run(ctx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
