"""Engines and sessions: where the database is, how to open it, how every write commits.

Storage contract (what callers may rely on):

- Every write goes through :func:`write_session`. Its block is one transaction: all of it
  commits when the block ends, or none of it does (rollback on any exception). Query functions
  never commit; they only add to the caller's transaction.
- On SQLite a write transaction starts with ``BEGIN IMMEDIATE``: the write lock is taken up
  front, so a read-then-write in one block cannot be overtaken by another writer, and waiting
  writers queue on ``busy_timeout`` (5 s) instead of failing at once; a lock held longer is a
  StoreError (the controller logs it and retries its cycle, see ``Controller.run``). WAL mode
  lets readers run while one writer writes. Foreign keys are enforced.
- On PostgreSQL (READ COMMITTED) state changes that must not race use conditional UPDATEs
  (row locks) or ``INSERT ... ON CONFLICT`` (see ``queries`` and ``leases``).
- :func:`read_session` never writes: on PostgreSQL its transactions are read-only, on SQLite a
  missing file is an error (it is never created) and the journal mode is left alone.
- Database errors leave this module as :class:`~slurmhpo.errors.StoreError` (or
  ``ConfigError`` for an unusable URL) with a message naming the database and the fix.

The URL comes from the explicit argument, else ``$SLURMHPO_DB``, else a SQLite file under the
user's data directory (created 0700, file 0600: login nodes are shared).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session

from slurmhpo.errors import ConfigError, NotFoundError, StoreError

ENV_VAR = "SLURMHPO_DB"
SQLITE_BUSY_TIMEOUT_MS = 5_000  # then "locked": the controller logs it and retries
_WRITE_OPTION = "slurmhpo_write"


def default_db_path() -> Path:
    """The per-user SQLite file used when neither --db nor $SLURMHPO_DB is given."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("slurmhpo")) / "slurmhpo.db"


def resolve_url(url: str | URL | None = None) -> URL:
    """Explicit URL, else $SLURMHPO_DB, else the default SQLite file; parse errors -> ConfigError.

    ``postgresql://`` means psycopg 3 (the driver slurmhpo depends on), not psycopg2.
    """
    if url is None:
        url = os.environ.get(ENV_VAR) or f"sqlite:///{default_db_path()}"
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
        raise ConfigError(
            "--db",
            f"cannot parse {_without_credentials(str(url))!r} as a database URL",
            "use sqlite:///PATH/TO/FILE.db or postgresql+psycopg://USER@HOST:PORT/DBNAME",
        ) from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _without_credentials(text: str) -> str:
    """An unparsable URL as it may be shown: whatever precedes its last ``@`` (user and
    password) replaced by ``***``."""
    scheme, separator, rest = text.partition("://")
    if separator and "@" in rest:
        return f"{scheme}://***@{rest.rpartition('@')[2]}"
    return text


def display_url(url: URL | str) -> str:
    """The URL as shown in messages, reprs and logs: password hidden (``***``); a read-only
    SQLite engine's ``file:...?mode=ro`` URI as the plain ``sqlite:///PATH`` it came from.

    A string that does not parse as a URL is shown without what precedes its last ``@``.
    """
    if isinstance(url, str):
        try:
            url = make_url(url)
        except (ArgumentError, ValueError):
            return _without_credentials(url)
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and database.startswith("file:"):
        # a read-only engine's URI (see _readonly_sqlite_url): shown as the file it opens
        return f"sqlite:///{unquote(database.removeprefix('file:'))}"
    return url.render_as_string(hide_password=True)


def sqlite_path(url: URL) -> Path | None:
    """The file behind a SQLite URL, or None for in-memory / non-SQLite URLs."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _create_private_file(path: Path) -> None:
    """Create missing parent directories (0700) and the database file (0600) before SQLite does."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
        path.parent.chmod(0o700)  # mkdir's mode is filtered by the umask
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
        os.close(fd)
        path.chmod(0o600)


def _install_sqlite_hooks(engine: Engine, *, readonly: bool) -> None:
    """Per-connection pragmas, and explicit BEGIN so SQLite transactions really are atomic.

    pysqlite's own transaction handling starts transactions late (not before a SELECT), which
    breaks read-then-write atomicity; we take over and issue BEGIN / BEGIN IMMEDIATE ourselves.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _readonly_sqlite_url(url: URL, path: Path) -> URL:
    """``url`` as a SQLite URI that opens ``path`` with ``mode=ro``.

    The path is percent-quoted, so a ``#`` or space in a folder name reaches SQLite as itself.
    """
    database = "file:" + quote(str(path.expanduser().resolve()))
    return url.set(database=database, query={**url.query, "mode": "ro", "uri": "true"})


def make_engine(url: str | URL | None = None, *, readonly: bool = False) -> Engine:
    """An engine for ``url`` (see :func:`resolve_url`).

    ``readonly=True`` never creates anything: a missing SQLite file raises NotFoundError, the
    file is opened in SQLite's own read-only mode (``mode=ro``: the driver refuses any write,
    whatever the code above it does), and PostgreSQL sessions run with
    ``default_transaction_read_only``. Otherwise a missing SQLite file is created private to
    the user.
    """
    parsed = resolve_url(url)
    path = sqlite_path(parsed)
    if path is not None:
        if readonly and not path.exists():
            raise NotFoundError(
                f"database {path} does not exist; create it with: "
                f"slurmhpo db upgrade --db {display_url(parsed)}"
            )
        if readonly:
            parsed = _readonly_sqlite_url(parsed, path)
        else:
            _create_private_file(path)
    connect_args: dict[str, Any] = {}
    if readonly and parsed.get_backend_name() == "postgresql":
        connect_args["options"] = "-c default_transaction_read_only=on"
    try:
        # pre-ping: after a server restart, pooled connections are dead; test before use
        engine = create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise ConfigError(
            "--db",
            f"cannot use database URL {display_url(parsed)}: {exc}",
            "use sqlite:///PATH/TO/FILE.db or postgresql+psycopg://USER@HOST:PORT/DBNAME",
        ) from None
    if parsed.get_backend_name() == "sqlite":
        _install_sqlite_hooks(engine, readonly=readonly)
    return engine


def dialect_insert(session: Session) -> Any:
    """The INSERT construct of the session's dialect, which has ``on_conflict_do_nothing``.

    Only SQLite and PostgreSQL are supported; anything else is a StoreError.
    """
    from sqlalchemy.dialects import postgresql, sqlite

    name = session.get_bind().dialect.name
    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(name)
    if insert is None:
        raise StoreError(f"unsupported database dialect {name!r}; use SQLite or PostgreSQL")
    return insert


def translate_error(exc: SQLAlchemyError, engine: Engine) -> StoreError:
    """A StoreError whose message names the database and what to do."""
    where = display_url(engine.url)
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    if isinstance(exc, IntegrityError):
        return StoreError(f"database at {where} refused the write (constraint): {detail}")
    if isinstance(exc, OperationalError):
        return StoreError(
            f"database at {where} is unavailable or locked: {detail} "
            "(check the URL, that the server runs, and that no process holds the SQLite lock)"
        )
    return StoreError(f"database error at {where}: {detail}")


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One write transaction: commit at the end of the block, roll back on any exception.

    SQLAlchemy errors become StoreError; slurmhpo's own errors pass through unchanged.
    Objects stay usable after the block (``expire_on_commit=False``).
    """
    session = Session(engine, expire_on_commit=False)
    try:
        session.connection(execution_options={_WRITE_OPTION: True})
        yield session
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        raise translate_error(exc, engine) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reads; it never commits, so nothing done in it is kept.

    Closing (not rolling back) ends the transaction without expiring the loaded objects, so
    they stay readable, detached, after the block.
    """
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
    except SQLAlchemyError as exc:
        raise translate_error(exc, engine) from exc
    finally:
        session.close()


__all__ = [
    "ENV_VAR",
    "default_db_path",
    "dialect_insert",
    "display_url",
    "make_engine",
    "read_session",
    "resolve_url",
    "sqlite_path",
    "translate_error",
    "write_session",
]
