"""Alembic environment for slurmhpo, configured from Python (no alembic.ini).

``slurmhpo.store.migrate.alembic_config`` puts the engine to migrate in
``config.attributes["engine"]``; a developer running ``alembic`` by hand may instead set
``sqlalchemy.url``. ``render_as_batch`` lets later revisions ALTER tables on SQLite.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine, create_engine

from slurmhpo.store.models import Base

target_metadata = Base.metadata


def _engine() -> Engine:
    engine = context.config.attributes.get("engine")
    if engine is not None:
        return engine
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set config.attributes['engine'] or sqlalchemy.url to migrate")
    return create_engine(url)


def run_offline() -> None:
    """Emit SQL text instead of running it (``alembic upgrade --sql``)."""
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    """Turn SQLite's foreign key enforcement on or off, outside any transaction.

    A batch ALTER on SQLite copies the table and drops the old one; with enforcement on, the
    drop would cascade and delete every row that references it (all trials of all studies).
    SQLite ignores this pragma inside a transaction, so it goes to the raw connection, which
    slurmhpo's engines keep in autocommit mode between explicit BEGINs.
    """
    connection.connection.driver_connection.execute(  # type: ignore[union-attr]
        f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}"
    )


def run_online() -> None:
    """Run each revision in its own transaction on a live connection (all in one when
    ``config.attributes["atomic"]`` is set)."""
    atomic = context.config.attributes.get("atomic", False)  # one transaction: a new database
    with _engine().connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _sqlite_foreign_keys(connection, on=False)
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=True,
                transaction_per_migration=not atomic,
                # Alembic takes SQLite's DDL for non-transactional; with slurmhpo's explicit
                # BEGIN (store/db.py) it is transactional, which `atomic` relies on
                transactional_ddl=True if atomic else None,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                connection.commit()
                if broken:
                    raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, on=True)


if context.is_offline_mode():
    run_offline()
else:
    run_online()
