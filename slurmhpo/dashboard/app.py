"""The Starlette application: routes only; every answer comes from :mod:`.reads`.

Pages are static HTML shells (``static/``) whose script fetches the JSON endpoints, so the
same documents serve people and programs. Database calls are plain functions: Starlette runs
sync endpoints in its thread pool, so a slow query never blocks other requests.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from slurmhpo.dashboard import reads
from slurmhpo.dashboard.access import TokenGate
from slurmhpo.errors import NotFoundError, SlurmhpoError

if TYPE_CHECKING:
    from sqlalchemy import Engine

STATIC = Path(__file__).with_name("static")
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1"]


class StrictJSON(JSONResponse):
    """Sorted keys and no NaN token, like ``--json`` (values are encoded before this)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, sort_keys=True, allow_nan=False).encode()


def plotly_js() -> Path:
    """plotly.min.js inside the installed ``plotly`` wheel (found without importing it)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise NotFoundError("plotly is not installed: pip install 'slurmhpo[dashboard]'")
    return Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"


def create_app(
    engine: Engine, *, database: str, token: str | None, loopback: bool, poll_s: float = 2.0
) -> Starlette:
    """The dashboard over ``engine`` (read-only). ``database`` is the URL as shown (password
    hidden). On a loopback bind, Host headers other than loopback names are refused, so a
    web page cannot reach the dashboard by rebinding its own DNS name to 127.0.0.1."""

    def call(read: Any, *args: Any) -> Response:
        try:
            return StrictJSON(read(engine, *args))
        except NotFoundError as exc:
            return StrictJSON({"error": str(exc)}, status_code=404)
        except SlurmhpoError as exc:  # messages name the database by its shown URL only
            return StrictJSON({"error": str(exc)}, status_code=503)

    def page(name: str) -> Any:
        def endpoint(_: Request) -> Response:
            return FileResponse(STATIC / name, headers={"cache-control": "no-cache"})

        return endpoint

    def info(_: Request) -> Response:
        return StrictJSON({"database": database, "read_only": True, "poll_seconds": poll_s})

    def status_all(_: Request) -> Response:
        return call(reads.status, None)

    def status_one(request: Request) -> Response:
        return call(reads.status, request.path_params["name"])

    def study_board(request: Request) -> Response:
        return call(reads.study_board, request.path_params["name"])

    def study_curves(request: Request) -> Response:
        return call(reads.study_curves, request.path_params["name"])

    def version(request: Request) -> Response:
        return call(reads.version, request.path_params["name"])

    def trial(request: Request) -> Response:
        params = request.path_params
        return call(reads.trial_detail, params["name"], params["number"])

    def plotly(_: Request) -> Response:
        return FileResponse(plotly_js(), headers={"cache-control": "max-age=86400"})

    routes = [
        Route("/", page("studies.html")),
        Route("/studies/{name}", page("study.html")),
        Route("/api/info", info),
        Route("/api/status", status_all),
        Route("/api/status/{name}", status_one),
        Route("/api/studies/{name}/board", study_board),
        Route("/api/studies/{name}/curves", study_curves),
        Route("/api/studies/{name}/version", version),
        Route("/api/studies/{name}/trials/{number:int}", trial),
        Route("/vendor/plotly.min.js", plotly),
        Route("/favicon.ico", lambda _: Response(status_code=204)),
        Mount("/static", StaticFiles(directory=STATIC)),
    ]
    middleware = []
    if loopback:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=LOOPBACK_HOSTS))
    if token is not None:
        middleware.append(Middleware(TokenGate, token=token))
    return Starlette(routes=routes, middleware=middleware)
