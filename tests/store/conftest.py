"""Store fixtures: every store test runs on a SQLite file and on the real PostgreSQL server.

Each PostgreSQL test gets its own freshly created database with a unique name (dropped after),
so tests never see each other's rows, nor those of other suites sharing the server.
Without a server the PostgreSQL cases skip on a laptop and fail when CI=true.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from slurmhpo.store.db import make_engine
from slurmhpo.store.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "SLURMHPO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _skip_or_fail(reason: str) -> None:
    """Same policy as tests/conftest.py (re-implemented: tests/ is not a package)."""
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason} (CI=true: this test must run, not skip)", pytrace=False)
    pytest.skip(reason)


def _admin_engine() -> Engine:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        engine.connect().close()
    except Exception as exc:
        engine.dispose()
        _skip_or_fail(f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {exc}")
    return engine


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a new, empty PostgreSQL database private to this test."""
    admin = _admin_engine()
    name = f"slurmhpo_store_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind (no schema yet)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a database upgraded to head."""
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()
