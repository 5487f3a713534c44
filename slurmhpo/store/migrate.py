"""Schema revisions: upgrade a database with Alembic and refuse one this slurmhpo cannot use.

The Alembic scripts ship inside the package as ``slurmhpo.migrations`` (the top-level
``migrations/`` folder of the source tree), so no alembic.ini is needed and ``slurmhpo db
upgrade`` works from a plain wheel install. The version table is Alembic's ``alembic_version``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import SQLAlchemyError

from slurmhpo import __version__
from slurmhpo.errors import SchemaError
from slurmhpo.store.db import display_url, translate_error
from slurmhpo.store.models import Base

log = logging.getLogger("slurmhpo.store")


def alembic_config(engine: Engine | None = None, scripts: str | None = None) -> Config:
    """An Alembic Config for the packaged scripts; ``engine`` is what env.py migrates.

    ``scripts`` (a directory) replaces the packaged revisions: for tests and tooling only.
    """
    config = Config()
    config.set_main_option("script_location", scripts or str(files("slurmhpo.migrations")))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def script_directory(scripts: str | None = None) -> ScriptDirectory:
    """The packaged revisions (or those in ``scripts``)."""
    return ScriptDirectory.from_config(alembic_config(scripts=scripts))


def head_revision(scripts: str | None = None) -> str:
    """The single head revision this slurmhpo expects (branches are not allowed)."""
    heads = script_directory(scripts).get_heads()
    if len(heads) != 1:
        raise SchemaError(f"slurmhpo's migrations have {len(heads)} heads {heads}; expected 1")
    return heads[0]


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database stands relative to this slurmhpo's head revision."""

    current: str | None  # None: no revision recorded
    head: str
    known: bool  # the current revision exists in this slurmhpo's scripts
    has_tables: bool  # any slurmhpo table exists

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def schema_status(engine: Engine, scripts: str | None = None) -> SchemaStatus:
    """Read the recorded revision without writing anything."""
    head = head_revision(scripts)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
            names = set(inspect(conn).get_table_names())
    except SQLAlchemyError as exc:
        raise translate_error(exc, engine) from exc
    known = current is None or _revision_exists(current, scripts)
    has_tables = bool(names & set(Base.metadata.tables))
    return SchemaStatus(current=current, head=head, known=known, has_tables=has_tables)


def _revision_exists(revision: str, scripts: str | None) -> bool:
    try:
        return script_directory(scripts).get_revision(revision) is not None
    except Exception:  # alembic raises several types for an unknown id
        return False


def check_schema(engine: Engine, scripts: str | None = None) -> None:
    """Raise SchemaError (naming the fix) unless the database is at this slurmhpo's head."""
    status = schema_status(engine, scripts)
    if status.up_to_date:
        return
    where = display_url(engine.url)
    fix = f"run: slurmhpo db upgrade --db {where}"
    if status.current is None:
        raise SchemaError(f"database at {where} has no slurmhpo schema; {fix}")
    if not status.known:
        raise SchemaError(
            f"database at {where} is at schema revision {status.current}, which this slurmhpo "
            f"({__version__}) does not know: a newer slurmhpo wrote it; upgrade slurmhpo "
            "(pip install -U slurmhpo) instead of using this older version"
        )
    raise SchemaError(
        f"database at {where} is at schema revision {status.current}, older than this "
        f"slurmhpo's {status.head}; {fix}"
    )


def upgrade(
    engine: Engine, revision: str = "head", scripts: str | None = None, *, atomic: bool = False
) -> str:
    """Upgrade the database to ``revision`` (default head); returns the revision it is now at.

    Each Alembic revision runs in its own transaction, or, with ``atomic``, all of them in
    one: a process killed midway then leaves the database as it found it, never at a revision
    in between. Refuses a database newer than us.
    """
    status = schema_status(engine, scripts)
    if not status.known:
        check_schema(engine, scripts)  # raises the "upgrade slurmhpo" message
    config = alembic_config(engine, scripts)
    config.attributes["atomic"] = atomic
    try:
        command.upgrade(config, revision)
    except SQLAlchemyError as exc:
        raise translate_error(exc, engine) from exc
    current = schema_status(engine, scripts).current
    return current or "base"


def downgrade(engine: Engine, revision: str, scripts: str | None = None) -> str:
    """Downgrade to ``revision`` ("base" drops everything); for tests and rollbacks."""
    try:
        command.downgrade(alembic_config(engine, scripts), revision)
    except SQLAlchemyError as exc:
        raise translate_error(exc, engine) from exc
    return schema_status(engine, scripts).current or "base"


def ensure_schema(engine: Engine, scripts: str | None = None) -> None:
    """Create the schema in an empty database; refuse an old or newer one (with its fix).

    What every command that writes does first: a new database needs no separate
    ``slurmhpo db upgrade``, but an existing one is never migrated behind the user's back.
    The creation is one transaction: a controller killed while creating its database (a
    `run` killed in its first second) leaves it empty, and the next `run` creates it again
    instead of refusing a schema stuck between two revisions.
    """
    if not schema_status(engine, scripts).has_tables:
        upgrade(engine, scripts=scripts, atomic=True)
        log.info("created the slurmhpo schema in the new database")
    check_schema(engine, scripts)
