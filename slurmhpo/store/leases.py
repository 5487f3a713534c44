"""Per-study leases: at most one controller drives a study at a time.

A lease row says who (``owner``, "host:pid:uuid") holds a study until ``expires_at``. Every
time is the DB server's clock, never the caller's: login and compute nodes drift, and a
controller on a slow clock must not believe a live lease expired.

Race safety: taking a lease is one conditional UPDATE (``WHERE owner = me OR expired``); if
no row exists, an ``INSERT ... ON CONFLICT DO NOTHING``. Two controllers racing get exactly
one winner on PostgreSQL (row lock, WHERE re-checked after the other commits) and on SQLite
(one writer at a time). Call these inside ``db.write_session``; the answer holds once the
transaction commits.
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any

from sqlalchemy import ColumnElement, case, delete, select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import DateTime

from slurmhpo.errors import ConfigError
from slurmhpo.store.db import dialect_insert
from slurmhpo.store.models import Lease, server_now


class _server_now_plus(FunctionElement[Any]):
    """The DB server's time plus a number of seconds (a bound parameter)."""

    type = DateTime(timezone=True)
    inherit_cache = True


@compiles(_server_now_plus)
def _plus_postgresql(element: _server_now_plus, compiler: Any, **kw: Any) -> str:
    seconds = compiler.process(element.clauses, **kw)
    return f"(now() + make_interval(secs => {seconds}))"


@compiles(_server_now_plus, "sqlite")
def _plus_sqlite(element: _server_now_plus, compiler: Any, **kw: Any) -> str:
    seconds = compiler.process(element.clauses, **kw)
    return f"(strftime('%Y-%m-%d %H:%M:%f', 'now', printf('%+.3f seconds', {seconds})) || '000')"


def _expiry(ttl_seconds: float) -> ColumnElement[Any]:
    if ttl_seconds <= 0:
        raise ConfigError("lease.ttl", f"{ttl_seconds} is not a positive duration", "use > 0 s")
    return _server_now_plus(float(ttl_seconds))  # type: ignore[return-value]


def make_owner() -> str:
    """A lease owner id unique to this process and call: host:pid:uuid."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"


def acquire_lease(session: Session, study_id: int, owner: str, ttl_seconds: float) -> bool:
    """Take (or keep) the study's lease for ``ttl_seconds``; False if someone else holds it.

    Taking over an expired lease resets ``acquired_at``; re-acquiring our own keeps it.
    """
    now = server_now()
    taken = session.connection().execute(
        update(Lease)
        .where(Lease.study_id == study_id)
        .where((Lease.owner == owner) | (Lease.expires_at <= now))
        .values(
            owner=owner,
            acquired_at=case((Lease.owner == owner, Lease.acquired_at), else_=now),
            heartbeat_at=now,
            expires_at=_expiry(ttl_seconds),
        )
    )
    if taken.rowcount:
        return True
    created = session.connection().execute(
        dialect_insert(session)(Lease)
        .values(
            study_id=study_id,
            owner=owner,
            acquired_at=now,
            heartbeat_at=now,
            expires_at=_expiry(ttl_seconds),
        )
        .on_conflict_do_nothing(index_elements=["study_id"])
        .returning(Lease.study_id)
    )
    return created.first() is not None  # RETURNING: rowcount of an INSERT is not portable


def renew_lease(session: Session, study_id: int, owner: str, ttl_seconds: float) -> bool:
    """Extend our lease; False means we no longer hold it and must stop driving the study.

    A lapsed lease that nobody took meanwhile is still ours (nobody else acted on the study).
    """
    now = server_now()
    renewed = session.connection().execute(
        update(Lease)
        .where(Lease.study_id == study_id, Lease.owner == owner)
        .values(heartbeat_at=now, expires_at=_expiry(ttl_seconds))
    )
    return bool(renewed.rowcount)


def release_lease(session: Session, study_id: int, owner: str) -> bool:
    """Give the lease up at once (clean shutdown); False if we did not hold it."""
    released = session.connection().execute(
        delete(Lease).where(Lease.study_id == study_id, Lease.owner == owner)
    )
    return bool(released.rowcount)


def current_lease(session: Session, study_id: int) -> tuple[Lease, bool] | None:
    """The study's lease row and whether it is live by the server's clock, or None."""
    row = session.execute(
        select(Lease, Lease.expires_at > server_now()).where(Lease.study_id == study_id)
    ).first()
    return None if row is None else (row[0], bool(row[1]))
