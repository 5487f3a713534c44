"""yahpo_gym's own objects, built without touching the user's ``~/.config/yahpo_gym``.

We need yahpo_gym for one thing the ONNX model alone cannot give: YAHPO's ConfigSpace and its
seeded sampler, which define the 200 reference configurations behind the budgets of
benchmarks/PEERS.md. yahpo_gym finds its data through a module-level ``LocalConfiguration``
whose ``set_data_path`` rewrites the global file ``~/.config/yahpo_gym`` (and whose absence makes
``BenchmarkSet`` fail). Rewriting a user's global settings as a side effect is not acceptable, so
:func:`benchmark_set` builds the ``BenchmarkSet`` while yahpo_gym's module-level configuration
object is temporarily replaced by one that lives in a temporary file, then puts the original
back. A ``BenchmarkSet`` keeps its data path after construction, so nothing global is needed later.

yahpo_gym (and through it ConfigSpace 0.6.1, pandas and ``numpy<2``) is imported lazily here only.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import threading
from typing import Any

from slurmhpo.bench.lcbench import SCENARIO, resolve_data_dir
from slurmhpo.errors import SlurmhpoError

_PATCH_LOCK = threading.Lock()


def _import_yahpo() -> tuple[Any, Any, Any]:
    try:
        import yahpo_gym.configuration as configuration
        from yahpo_gym.benchmark_set import BenchmarkSet
        from yahpo_gym.local_config import LocalConfiguration
    except (ImportError, ValueError) as exc:  # ValueError: ConfigSpace 0.6 built for numpy 1
        raise SlurmhpoError(
            f"this needs a working yahpo_gym (YAHPO's ConfigSpace sampler): {exc}; "
            "pip install yahpo-gym, which requires numpy<2"
        ) from exc
    return configuration, BenchmarkSet, LocalConfiguration


def benchmark_set(instance: str | int, data_dir: str | os.PathLike[str] | None = None) -> Any:
    """A ``yahpo_gym.BenchmarkSet`` for lcbench ``instance``; global yahpo settings untouched.

    ``data_dir`` is resolved like :class:`~slurmhpo.bench.lcbench.LCBenchTask`'s. The citation
    yahpo_gym prints on construction is swallowed (it is in our module docstrings).
    """
    root = resolve_data_dir(data_dir)
    configuration, benchmark_cls, local_cls = _import_yahpo()
    with _PATCH_LOCK, tempfile.TemporaryDirectory(prefix="slurmhpo-yahpo-") as tmp:
        private = local_cls(settings_path=os.path.join(tmp, "yahpo_gym"))
        private.init_config(data_path=str(root))  # writes only inside tmp
        original = configuration.local_config
        configuration.local_config = private
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                return benchmark_cls(SCENARIO, instance=str(instance), multithread=False)
        finally:
            configuration.local_config = original


def reference_configs(
    instance: str | int,
    n: int = 200,
    seed: int = 0,
    data_dir: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """``n`` configurations from YAHPO's search space seeded with ``seed`` (PEERS.md's recipe).

    Same as ``cs = get_opt_space(drop_fidelity_params=True); cs.seed(seed);
    cs.sample_configuration(n)``, returned as plain dicts without the instance constant.
    """
    if not isinstance(n, int) or n < 1:
        raise SlurmhpoError(f"n must be an integer >= 1, got {n!r}")
    bench = benchmark_set(instance, data_dir)
    cs = bench.get_opt_space(drop_fidelity_params=True)
    cs.seed(seed)
    sampled = cs.sample_configuration(n)
    if n == 1:
        sampled = [sampled]
    configs = []
    for config in sampled:
        values = dict(config.get_dictionary())
        values.pop("OpenML_task_id", None)
        configs.append(values)
    return configs
