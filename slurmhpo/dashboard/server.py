"""Run the dashboard: check who may connect, open the database read-only, serve with uvicorn."""

from __future__ import annotations

import contextlib
import sys

import uvicorn

from slurmhpo.dashboard.access import check_bind, is_loopback
from slurmhpo.dashboard.app import create_app
from slurmhpo.store.db import display_url, make_engine, resolve_url
from slurmhpo.store.migrate import check_schema


def serve(db: str | None, host: str, port: int, token: str | None, poll_s: float) -> int:
    """Serve until Ctrl-C (exit 0). Bind and schema problems raise before anything listens."""
    check_bind(host, token)
    engine = make_engine(db, readonly=True)
    try:
        check_schema(engine)
        shown = display_url(resolve_url(db))  # as given, not the read-only URI it became
        app = create_app(
            engine, database=shown, token=token, loopback=is_loopback(host), poll_s=poll_s
        )
        where = f"[{host}]" if ":" in host else host
        url = f"http://{where}:{port}/" + (
            "?token=TOKEN (from --token or the environment)" if token else ""
        )
        print(f"slurmhpo dashboard on {url}  database {shown} (read-only); Ctrl-C stops it")
        sys.stdout.flush()
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
        with contextlib.suppress(KeyboardInterrupt):  # uvicorn stops on Ctrl-C, re-raises it
            uvicorn.Server(config).run()
    finally:
        engine.dispose()
    return 0
