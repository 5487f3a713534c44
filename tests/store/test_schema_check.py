"""Refusing a database whose schema is missing, older or newer, with the fix in the message.

"Older" and "newer" need a second revision: the tests copy the packaged scripts and add a
revision (one past the packaged head) to the copy, so the real scripts stay untouched.
"""

from __future__ import annotations

import re
import shutil
from importlib.resources import files
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from slurmhpo.errors import SchemaError
from slurmhpo.store.db import display_url, make_engine
from slurmhpo.store.migrate import (
    check_schema,
    ensure_schema,
    head_revision,
    schema_status,
    upgrade,
)

HEAD = head_revision()
FUTURE = f"{int(HEAD) + 1:04d}"
REVISION_FUTURE = f'''"""Test-only revision on top of {HEAD}."""
import sqlalchemy as sa
from alembic import op

revision = "{FUTURE}"
down_revision = "{HEAD}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("zz_extra", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("zz_extra")
'''


def _scripts_with(tmp_path: Path, revision_text: str) -> str:
    """A copy of the packaged migrations with an extra revision FUTURE."""
    target = tmp_path / "scripts"
    shutil.copytree(
        str(files("slurmhpo.migrations")), target, ignore=shutil.ignore_patterns("__pycache__")
    )
    (target / "versions" / f"{FUTURE}_extra.py").write_text(revision_text)
    return str(target)


@pytest.fixture
def newer_scripts(tmp_path: Path) -> str:
    """The packaged migrations and a working revision FUTURE (the "future")."""
    return _scripts_with(tmp_path, REVISION_FUTURE)


@pytest.fixture
def empty_engine(db_url: str) -> Engine:
    return make_engine(db_url)


def test_no_schema_names_the_upgrade_command(empty_engine: Engine) -> None:
    where = display_url(empty_engine.url)
    with pytest.raises(SchemaError) as info:
        check_schema(empty_engine)
    assert str(info.value) == (
        f"database at {where} has no slurmhpo schema; run: slurmhpo db upgrade --db {where}"
    )
    assert info.value.exit_code == 3


def test_head_passes(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    check_schema(empty_engine)
    status = schema_status(empty_engine)
    assert status.up_to_date and status.has_tables and status.known


def test_older_revision_names_it_and_the_fix(empty_engine: Engine, newer_scripts: str) -> None:
    upgrade(empty_engine)  # packaged head HEAD; the "newer slurmhpo" expects FUTURE
    where = display_url(empty_engine.url)
    with pytest.raises(SchemaError, match=f"schema revision {HEAD}, older than") as info:
        check_schema(empty_engine, newer_scripts)
    assert str(info.value).endswith(f"run: slurmhpo db upgrade --db {where}")
    assert upgrade(empty_engine, scripts=newer_scripts) == FUTURE
    check_schema(empty_engine, newer_scripts)


def test_newer_revision_says_upgrade_slurmhpo(empty_engine: Engine, newer_scripts: str) -> None:
    upgrade(empty_engine, scripts=newer_scripts)
    message = re.escape("which this slurmhpo") + ".*" + re.escape("upgrade slurmhpo")
    with pytest.raises(SchemaError, match=f"revision {FUTURE}, " + message):
        check_schema(empty_engine)
    with pytest.raises(SchemaError, match=message):  # and upgrade does not touch it
        upgrade(empty_engine)
    assert schema_status(empty_engine, newer_scripts).current == FUTURE


def test_unknown_revision_id_is_treated_as_newer(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dcafe'"))
    with pytest.raises(SchemaError, match=r"f00dcafe.*upgrade slurmhpo"):
        check_schema(empty_engine)


def test_a_creation_cut_short_leaves_the_database_empty(
    empty_engine: Engine, tmp_path: Path
) -> None:
    """Creating a new database is one transaction: when its last revision dies (as a
    controller SIGKILLed in its first second would), no revision in between is left behind,
    and the next command creates the schema as if nothing had happened."""
    dying = REVISION_FUTURE.replace(
        'op.create_table("zz_extra"', 'raise RuntimeError("killed"); op.create_table("zz_extra"'
    )
    with pytest.raises(RuntimeError, match="killed"):
        ensure_schema(empty_engine, _scripts_with(tmp_path, dying))
    status = schema_status(empty_engine)
    assert (status.current, status.has_tables) == (None, False)
    ensure_schema(empty_engine)
    assert schema_status(empty_engine).up_to_date
