"""Alembic environment for slurmhpo, configured from Python (no alembic.ini).

``slurmhpo.store.migrate.alembic_config`` puts the engine to migrate in
``config.attributes["engine"]``; a developer running ``alembic`` by hand may instead set
``sqlalchemy.url``. ``render_as_batch`` lets later revisions ALTER tables on SQLite.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, create_engine

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


def run_online() -> None:
    """Run each revision in its own transaction on a live connection."""
    with _engine().connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            transaction_per_migration=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
