"""``slurmhpo dashboard``: a read-only web UI over the study database (the ``dashboard`` extra).

Parts, one job each: :mod:`.access` (who may connect: loopback by default, a token for any
other address), :mod:`.documents` (the study page's JSON, built from the plots' pure series
and the status document of :mod:`slurmhpo.views.status`), :mod:`.app` (the Starlette routes)
and :mod:`.server` (uvicorn). ``static/`` holds the pages and their small script; the charts
are drawn by plotly.js, served from the installed ``plotly`` wheel (no CDN, no build step).

Importing this package needs nothing optional; :func:`require_extra` says what to install.
"""

from __future__ import annotations

import importlib.util

from slurmhpo.errors import SlurmhpoError

INSTALL_HINT = 'pip install "slurmhpo[dashboard]"'
REQUIRED = ("starlette", "uvicorn", "plotly")


class DashboardUnavailable(SlurmhpoError):
    """The ``dashboard`` extra is not installed (exit 2: the fix is an install, as for bad
    input, not a failure of the database or of a study)."""

    exit_code = 2


def require_extra() -> None:
    """Raise DashboardUnavailable naming the pip command unless every required package is
    importable (checked without importing them)."""
    missing = [name for name in REQUIRED if importlib.util.find_spec(name) is None]
    if missing:
        raise DashboardUnavailable(
            f"the dashboard needs {', '.join(missing)}, which are not installed: {INSTALL_HINT}"
        )
