"""LCBench learning curves from the YAHPO Gym surrogate (Pfisterer et al. 2022, Zimmer et al. 2021).

The surrogate is YAHPO's ONNX model (``lcbench/model.onnx``). We run it with onnxruntime
directly instead of through ``yahpo_gym.BenchmarkSet.objective_function`` for two reasons:
speed (one session call for all 52 epochs of many configurations, with the input matrix built
in numpy rather than one ConfigSpace check per row) and independence (yahpo_gym pins
``numpy<2`` and ``ConfigSpace<=0.6.1`` and keeps its data path in a global file,
``~/.config/yahpo_gym``). The input layout below is YAHPO's lcbench scenario definition; the test
suite checks our numbers against ``objective_function`` whenever yahpo_gym is importable.

onnxruntime is imported lazily, on the first task built, so importing this module is free.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from slurmhpo.bench.base import CurveTask, Mode
from slurmhpo.errors import ConfigError, SlurmhpoError

DATA_ENV = "SLURMHPO_YAHPO_DATA"
SCENARIO = "lcbench"
R_MAX = 52
# YAHPO's lcbench scenario: continuous inputs in this order, one categorical input (the task id).
CONT_INPUTS = (
    "epoch",
    "batch_size",
    "learning_rate",
    "momentum",
    "weight_decay",
    "num_layers",
    "max_units",
    "max_dropout",
)
# Surrogate outputs in column order, with the direction each is optimised in.
OUTPUTS: dict[str, Mode] = {
    "time": "min",
    "val_accuracy": "max",
    "val_cross_entropy": "min",
    "val_balanced_accuracy": "max",
    "test_cross_entropy": "min",
    "test_balanced_accuracy": "max",
}
_PERCENT = {"val_accuracy", "val_balanced_accuracy", "test_balanced_accuracy"}
_NOT_SEARCHED = {"epoch", "OpenML_task_id"}  # the fidelity and the instance
_CHUNK = 32  # configurations per session call: bigger batches measured no faster


def default_data_dir() -> Path:
    """The repository-relative default ``<repo>/../shared/data/yahpo`` (may not exist)."""
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "yahpo"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The directory holding ``lcbench/`` (model.onnx, config_space.json, encoding.json).

    Order: the ``data_dir`` argument, else ``$SLURMHPO_YAHPO_DATA``, else
    :func:`default_data_dir` if it exists. A path to the ``lcbench`` folder itself is accepted.
    Raises ``ConfigError`` naming both ways to fix a missing directory.
    """
    if data_dir is not None:
        source, candidate = "data_dir", Path(data_dir)
    elif os.environ.get(DATA_ENV):
        source, candidate = DATA_ENV, Path(os.environ[DATA_ENV])
    else:
        source, candidate = "default", default_data_dir()
    candidate = candidate.expanduser()
    for root in (candidate, candidate.parent):
        if (root / SCENARIO / "model.onnx").is_file():
            return root.resolve()
    raise ConfigError(
        source,
        f"no YAHPO lcbench surrogate under {candidate} (expected {SCENARIO}/model.onnx there)",
        f"pass data_dir=... or set {DATA_ENV} to the directory that holds {SCENARIO}/",
    )


@functools.lru_cache(maxsize=4)
def _metadata(scenario_dir: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """(config_space.json, encoding of the task id) of one scenario, read once per process."""
    with open(scenario_dir / "config_space.json", encoding="utf-8") as fh:
        config_space = json.load(fh)
    with open(scenario_dir / "encoding.json", encoding="utf-8") as fh:
        encoding = json.load(fh)["OpenML_task_id"]
    return config_space, encoding


@functools.lru_cache(maxsize=4)
def _session(model_path: Path, threads: int) -> Any:
    """One onnxruntime session per model and thread count, shared by every task instance."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise SlurmhpoError(
            "the lcbench benchmark needs onnxruntime: pip install 'slurmhpo[bench]'"
        ) from exc
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(
        str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
    )


def instances(data_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """The OpenML task ids the surrogate knows (YAHPO's instance list)."""
    config_space, _ = _metadata(resolve_data_dir(data_dir) / SCENARIO)
    hp = next(h for h in config_space["hyperparameters"] if h["name"] == "OpenML_task_id")
    return list(hp["choices"])


def space_from_yahpo(config_space: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Translate YAHPO's ConfigSpace JSON to the study-file ``[space]`` format.

    The fidelity (epoch) and the instance (OpenML_task_id) are not searched and are dropped;
    ranges and log scales are YAHPO's (its float bounds carry float noise such as
    0.00010000000000000009, rounded here to 12 significant digits).
    """
    space: dict[str, dict[str, Any]] = {}
    for hp in config_space["hyperparameters"]:
        if hp["name"] in _NOT_SEARCHED:
            continue
        if hp["type"] not in {"uniform_int", "uniform_float"}:
            raise SlurmhpoError(f"unexpected YAHPO lcbench parameter {hp['name']}: {hp['type']}")
        if hp["type"] == "uniform_int":
            spec = {"type": "int", "low": int(hp["lower"]), "high": int(hp["upper"])}
        else:
            low, high = (float(f"{hp[k]:.12g}") for k in ("lower", "upper"))
            spec = {"type": "float", "low": low, "high": high}
        if hp.get("log"):
            spec["log"] = True
        space[hp["name"]] = spec
    return space


class LCBenchTask(CurveTask):
    """One lcbench instance (an OpenML task) as a learning-curve task, epochs 1..52.

    ``metric`` is any surrogate output but ``time`` (default ``val_accuracy``, maximised).
    Accuracies are clipped to [0, 100]; cumulative time is made non-decreasing with a running
    maximum (the raw surrogate dips for some configurations), which is also how the budgets in
    benchmarks/PEERS.md were computed. ``threads`` is onnxruntime's intra-op thread count:
    keep 1 when several simulations share a machine.
    """

    r_min = 1
    r_max = R_MAX

    def __init__(
        self,
        instance: str | int,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        metric: str = "val_accuracy",
        threads: int = 1,
        cache_size: int = 20_000,
    ) -> None:
        super().__init__(cache_size=cache_size)
        if metric not in OUTPUTS or metric == "time":
            choices = [m for m in OUTPUTS if m != "time"]
            raise ConfigError("metric", f"{metric!r} is not an lcbench metric", f"use {choices}")
        if not isinstance(threads, int) or threads < 1:
            raise ConfigError("threads", f"must be an integer >= 1, got {threads!r}")
        self.data_dir = resolve_data_dir(data_dir)
        self.instance = str(instance)
        scenario_dir = self.data_dir / SCENARIO
        config_space, encoding = _metadata(scenario_dir)
        known = instances(self.data_dir)
        if self.instance not in known or self.instance not in encoding:
            raise ConfigError(
                "instance", f"unknown lcbench instance {self.instance!r}", f"use {known}"
            )
        self.name = f"{SCENARIO}/{self.instance}"
        self.metric = metric
        self.mode = OUTPUTS[metric]
        self._code = encoding[self.instance]
        self._space = space_from_yahpo(config_space)
        self._column = list(OUTPUTS).index(metric)
        self._session = _session(scenario_dir / "model.onnx", threads)

    def space(self) -> dict[str, dict[str, Any]]:
        return {name: dict(spec) for name, spec in self._space.items()}

    def _full_curves(self, configs: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        parts = [self._predict(configs[i : i + _CHUNK]) for i in range(0, len(configs), _CHUNK)]
        out = np.concatenate(parts, axis=0)  # (n, r_max, outputs)
        metric = out[:, :, self._column]
        if self.metric in _PERCENT:
            metric = np.clip(metric, 0.0, 100.0)
        return metric, np.maximum(out[:, :, 0], 0.0)

    def _predict(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Raw surrogate outputs, shape (n, r_max, 6): one session call for n * r_max rows."""
        n = len(configs)
        hps = np.array([[float(c[name]) for name in CONT_INPUTS[1:]] for c in configs])
        x_cont = np.empty((n, self.r_max, len(CONT_INPUTS)), dtype=np.float32)
        x_cont[:, :, 0] = np.arange(1, self.r_max + 1)
        x_cont[:, :, 1:] = hps[:, None, :]
        x_cat = np.full((n * self.r_max, 1), self._code, dtype=np.int32)
        feeds = {"x_cat": x_cat, "x_cont": x_cont.reshape(n * self.r_max, len(CONT_INPUTS))}
        out = self._session.run(None, feeds)[0]
        return np.asarray(out, dtype=float).reshape(n, self.r_max, len(OUTPUTS))
