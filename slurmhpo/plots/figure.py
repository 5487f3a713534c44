"""matplotlib, imported lazily and headless (Agg), and the PNG writing every plot shares.

Only this package imports matplotlib, and only when a plot is drawn: it is an optional extra
(``slurmhpo[plot]``), so the rest of slurmhpo must import and run without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slurmhpo.errors import SlurmhpoError

INSTALL_HINT = 'pip install "slurmhpo[plot]"'
DPI = 100


class PlotUnavailable(SlurmhpoError):
    """matplotlib is not installed."""


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, or PlotUnavailable naming the install."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotUnavailable(f"plots need matplotlib: {INSTALL_HINT}") from exc
    return plt


def save(fig: Any, path: Path) -> None:
    """Write ``fig`` as a PNG (whatever the suffix) and free it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, dpi=DPI, format="png")
    except OSError as exc:
        problem = f"cannot write {path}: {exc.strerror}"
        raise SlurmhpoError(f"{problem} (choose another -o path)") from exc
    finally:
        pyplot().close(fig)
