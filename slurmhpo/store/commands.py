"""Queries of the ``commands`` table: operators write requests, the lease holder applies them.

Same contract as :mod:`slurmhpo.store.queries`: functions take an open Session and never
commit. A command is *pending* while ``applied_at`` is NULL. :func:`mark_applied` is a
conditional UPDATE (``WHERE applied_at IS NULL``), so a command is acknowledged at most once
even if two processes raced for it (only the lease holder should try, but the row says who
did). Times come from the DB server's clock, like every audit timestamp.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from slurmhpo.errors import ConfigError
from slurmhpo.states import StudyState
from slurmhpo.store.models import COMMAND_KINDS, Command, Study, server_now
from slurmhpo.store.queries import json_safe

# Study states in which a study is still driven (or waits for a controller).
ACTIVE_STUDY_STATES = tuple(state.value for state in StudyState if not state.ended)


def add_command(session: Session, study: Study, kind: str, args: dict[str, Any]) -> Command:
    """Queue ``kind`` (with ``args``) for ``study``; the controller applies it later."""
    if kind not in COMMAND_KINDS:
        raise ConfigError("command", f"{kind!r} is not a command", f"use one of {COMMAND_KINDS}")
    command = Command(study_id=study.id, kind=kind, args=json_safe(args))
    session.add(command)
    session.flush()
    return command


def pending_commands(session: Session, study_id: int) -> Sequence[Command]:
    """Commands of the study not applied yet, oldest first (the order they must apply in)."""
    query = select(Command).where(Command.study_id == study_id, Command.applied_at.is_(None))
    return session.scalars(query.order_by(Command.id)).all()


def mark_applied(session: Session, command_id: int, owner: str, result: str) -> bool:
    """Acknowledge a command: applied now (server clock) by ``owner``; False if already was."""
    done = session.connection().execute(
        update(Command)
        .where(Command.id == command_id, Command.applied_at.is_(None))
        .values(applied_at=server_now(), applied_by=owner, result=result)
    )
    return bool(done.rowcount)


def recent_commands(session: Session, study_id: int, limit: int = 10) -> Sequence[Command]:
    """The study's latest ``limit`` commands, newest first, applied or not."""
    query = select(Command).where(Command.study_id == study_id)
    return session.scalars(query.order_by(Command.id.desc()).limit(limit)).all()


def active_study_names(session: Session) -> list[str]:
    """Names of the studies a daemon should drive (not finished, cancelled or failed)."""
    query = select(Study.name).where(Study.state.in_(ACTIVE_STUDY_STATES)).order_by(Study.id)
    return list(session.scalars(query))


def load_study_for_update(session: Session, study_id: int) -> Study:
    """The study row, locked against concurrent state changes until the transaction ends."""
    return session.scalars(select(Study).where(Study.id == study_id).with_for_update()).one()


def get_command(session: Session, command_id: int) -> Command:
    """One command by id (for waiting on its acknowledgement)."""
    return session.get_one(Command, command_id)
