"""Throw-away databases beside a given URL, for benchmarks that must not touch real data.

A benchmark is told WHERE to run (a SQLite path or a PostgreSQL server) and makes its own
empty databases there: a new file in the SQLite file's folder, or a new database on the
PostgreSQL server (``CREATE DATABASE``, which needs a role allowed to create databases).
Both are removed when the block ends, unless ``keep`` is set.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine
from sqlalchemy.exc import SQLAlchemyError

from slurmhpo.errors import ConfigError
from slurmhpo.store.db import resolve_url, sqlite_path, translate_error


@contextmanager
def scratch_database(where: str, label: str, *, keep: bool = False) -> Iterator[str]:
    """Yield the URL of a new, empty database named after ``label`` next to ``where``.

    ``where`` is a SQLite file URL (the file itself is not used, only its folder) or a
    PostgreSQL URL whose database the benchmark may connect to in order to create others.
    """
    url = resolve_url(where)
    name = f"{label}_{uuid.uuid4().hex[:10]}"
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = sqlite_path(url)
        if path is None:
            raise ConfigError(
                "--db", "an in-memory SQLite database cannot be shared", "give a file URL"
            )
        folder = path.expanduser().resolve().parent
        if not folder.is_dir():
            raise ConfigError("--db", f"folder {folder} does not exist", "create it first")
        target = folder / f"{name}.db"
        try:
            yield f"sqlite:///{target}"
        finally:
            if not keep:
                for suffix in ("", "-wal", "-shm"):
                    target.with_name(target.name + suffix).unlink(missing_ok=True)
        return
    if backend != "postgresql":
        raise ConfigError("--db", f"{backend!r} is not supported", "use SQLite or PostgreSQL")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except SQLAlchemyError as exc:
        admin.dispose()
        raise translate_error(exc, admin) from exc
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
