"""Engine and session helper: URL resolution, SQLite settings and file modes, error messages."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from slurmhpo.errors import ConfigError, NotFoundError, StoreError
from slurmhpo.store import queries as q
from slurmhpo.store.db import (
    ENV_VAR,
    default_db_path,
    display_url,
    make_engine,
    read_session,
    resolve_url,
    write_session,
)
from slurmhpo.store.migrate import upgrade


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_url_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert resolve_url().database == str(tmp_path / "xdg" / "slurmhpo" / "slurmhpo.db")
    monkeypatch.setenv(ENV_VAR, "sqlite:///from-env.db")
    assert resolve_url().database == "from-env.db"
    assert resolve_url("sqlite:///explicit.db").database == "explicit.db"
    assert resolve_url("postgresql://u@h/d").drivername == "postgresql+psycopg"


def test_default_file_is_private(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(ENV_VAR, raising=False)
    path = default_db_path()
    assert not path.parent.exists()
    old_umask = os.umask(0o022)  # a permissive umask must not leak into the modes
    try:
        engine = make_engine()
        upgrade(engine)
        with write_session(engine) as s:
            q.create_study(s, "s", {}, "loss", "min")
    finally:
        os.umask(old_umask)
    assert _mode(path.parent) == 0o700
    assert _mode(path) == 0o600
    wal = path.with_name(path.name + "-wal")
    assert wal.exists() and _mode(wal) == 0o600
    engine.dispose()


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000  # then: retried
    engine.dispose()


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with pytest.raises(StoreError, match="refused the write"), write_session(engine) as s:
        s.execute(
            text(
                "INSERT INTO trials (study_id, number, config, state, created_at, updated_at) "
                "VALUES (999, 0, '{}', 'pending', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://x/y"])
def test_bad_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="--db") as info:
        make_engine(url)
    assert "sqlite:///" in str(info.value)  # names what a good URL looks like


def test_readonly_engine_never_creates_the_file(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "x.db"
    with pytest.raises(NotFoundError, match="does not exist; create it with: slurmhpo db upgrade"):
        make_engine(f"sqlite:///{path}", readonly=True)
    assert not path.parent.exists()


def test_readonly_postgresql_refuses_writes(pg_url: str) -> None:
    writer = make_engine(pg_url)
    upgrade(writer)
    reader = make_engine(pg_url, readonly=True)
    try:
        with pytest.raises(StoreError, match="read-only"), write_session(reader) as s:
            q.create_study(s, "s", {}, "loss", "min")
        with read_session(reader) as s:
            assert q.list_studies(s) == []
    finally:
        reader.dispose()
        writer.dispose()


def test_unreachable_server_is_a_store_error() -> None:
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/nope?connect_timeout=2")
    with (
        pytest.raises(StoreError, match=r"127\.0\.0\.1:1/nope.*unavailable"),
        read_session(engine) as s,
    ):
        q.list_studies(s)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://alice:s3cret-pw@db:54x/hpo",  # make_url: ValueError (the port)
        "postgres ql://alice:s3cret-pw@db/hpo",  # make_url: ArgumentError
    ],
)
def test_an_unparsable_url_is_refused_without_its_password(url: str) -> None:
    with pytest.raises(ConfigError, match="--db: cannot parse") as info:
        make_engine(url)
    assert "s3cret-pw" not in str(info.value) and "***@db" in str(info.value)
    assert "s3cret-pw" not in display_url(url)


def test_a_server_error_names_the_database_without_the_password() -> None:
    url = "postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:1/nope?connect_timeout=2"
    engine = make_engine(url)
    with pytest.raises(StoreError) as info, read_session(engine) as s:
        q.list_studies(s)
    assert "s3cret-pw" not in str(info.value) and "postgres:***@127.0.0.1:1" in str(info.value)


def test_readonly_sqlite_engine_is_refused_writes_by_the_driver(tmp_path: Path) -> None:
    folder = tmp_path / "odd name #1"  # quoted in the URI, where "#" would end the file name
    folder.mkdir()
    url = f"sqlite:///{folder / 'ro.db'}"
    writer = make_engine(url)
    with writer.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    reader = make_engine(url, readonly=True)
    assert display_url(reader.url) == f"sqlite:///{(folder / 'ro.db').resolve()}"
    try:
        with reader.connect() as conn:
            assert conn.exec_driver_sql("SELECT x FROM t").scalar_one() == 1
            with pytest.raises(OperationalError, match="readonly"):
                conn.exec_driver_sql("INSERT INTO t VALUES (2)")
    finally:
        reader.dispose()
        writer.dispose()
