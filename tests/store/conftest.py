"""Store fixtures: every store test runs on a SQLite file and on the real PostgreSQL server.

Each PostgreSQL test gets its own freshly created database (``pg_url`` in tests/conftest.py).
Without a server the PostgreSQL cases skip on a laptop and fail when CI=true.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from slurmhpo.store.db import make_engine
from slurmhpo.store.migrate import upgrade


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
