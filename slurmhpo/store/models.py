"""SQLAlchemy 2 typed models: the one description of the slurmhpo schema.

The Alembic revisions in ``migrations/versions`` must create exactly these tables; a test
compares the two on SQLite and PostgreSQL, so change both together (new revision + model).

Conventions that hold for every table:

- Timestamps are timezone-aware UTC (:class:`UTCDateTime`); SQLite has no time zone type, so
  values are stored as naive UTC text and get ``tzinfo=UTC`` back on load.
- Audit timestamps are taken from the DB server's clock (:func:`server_now`), never the node's:
  login and compute nodes drift, the database is the one clock every controller shares.
- An objective value is stored as ``value`` (finite float or NULL) plus ``value_kind``
  (``finite`` / ``nan`` / ``+inf`` / ``-inf``): SQLite turns NaN into NULL silently and JSON
  has no NaN, so a non-finite value is never a bare NULL that could mean "missing".
- ``study_id`` is repeated on jobs and observations so the hot queries (a rung: observations of
  a study at resource r; the active jobs of a study) hit one index without a join.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from slurmhpo.states import ACTIVE_JOB_STATES as ACTIVE_STATES
from slurmhpo.states import JobRowState, StudyState, TrialState

STUDY_STATES = tuple(state.value for state in StudyState)
TRIAL_STATES = tuple(state.value for state in TrialState)
JOB_STATES = tuple(state.value for state in JobRowState)
ACTIVE_JOB_STATES = tuple(state.value for state in ACTIVE_STATES)
JOB_BACKENDS = ("slurm", "local", "simulated")
DECISION_KINDS = (
    "start",
    "resume",
    "continue",
    "pause",
    "stop",
    "fail",
    "complete",
    "warm_start",
    "exploit",
)
VALUE_KINDS = ("finite", "nan", "+inf", "-inf")
MODES = ("min", "max")

# Deterministic constraint names: the same on every dialect, so migrations can name them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    """SQL text of a CHECK that ``column`` holds one of ``values``."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class server_now(FunctionElement[datetime]):
    """The DB server's current UTC time, as text SQLite compares correctly with stored values."""

    type = DateTime(timezone=True)
    inherit_cache = True


@compiles(server_now)
def _server_now_default(element: server_now, compiler: Any, **kw: Any) -> str:
    return "now()"


@compiles(server_now, "sqlite")
def _server_now_sqlite(element: server_now, compiler: Any, **kw: Any) -> str:
    # Same layout as SQLAlchemy's SQLite DATETIME storage ("YYYY-MM-DD HH:MM:SS.ffffff"), so
    # text comparison of stored and server times orders them correctly.
    return "(strftime('%Y-%m-%d %H:%M:%f', 'now') || '000')"


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every dialect; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def encode_value(value: float) -> tuple[float | None, str]:
    """Split an objective into the (value, value_kind) column pair; NaN/inf are explicit."""
    value = float(value)
    if math.isnan(value):
        return None, "nan"
    if math.isinf(value):
        return None, "+inf" if value > 0 else "-inf"
    return value, "finite"


def decode_value(value: float | None, kind: str) -> float:
    """Inverse of :func:`encode_value`."""
    if kind == "finite":
        if value is None:
            raise ValueError("value_kind 'finite' with a NULL value: the row is corrupt")
        return float(value)
    return {"nan": math.nan, "+inf": math.inf, "-inf": -math.inf}[kind]


class Base(DeclarativeBase):
    """Declarative base; its metadata is what Alembic autogenerate compares against."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Study(Base):
    """One HPO run; ``spec`` is the validated study file as a dict.

    ``uid`` is an identity that never repeats (a new database, or a study re-created under an
    old name, gets a new one); ``run_key`` is the name of the study's folder under its
    runs_dir, ``<name>-<uid[:12]>`` (just ``<name>`` for studies registered before
    revision 0003, whose files are there). See :func:`slurmhpo.store.queries.create_study`.
    """

    __tablename__ = "studies"
    __table_args__ = (
        CheckConstraint(_in("mode", MODES), name="mode"),
        CheckConstraint(_in("state", STUDY_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    run_key: Mapped[str] = mapped_column(String(150), unique=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    metric: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(16), default="registered")
    # Last decision number handed out; bumped by an UPDATE so concurrent writers serialize.
    last_decision_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=server_now())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=server_now(), onupdate=server_now()
    )
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    trials: Mapped[list[Trial]] = relationship(back_populates="study", order_by="Trial.number")


class Trial(Base):
    """One configuration; ``number`` is the per-study trial id the scheduler uses."""

    __tablename__ = "trials"
    __table_args__ = (
        UniqueConstraint("study_id", "number"),
        CheckConstraint(_in("state", TRIAL_STATES), name="state"),
        Index(None, "study_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    bracket: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    # Highest resource with an observation; maintained by queries.record_observations.
    reached_resource: Mapped[int | None] = mapped_column(Integer)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=server_now())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=server_now(), onupdate=server_now()
    )

    study: Mapped[Study] = relationship(back_populates="trials")
    jobs: Mapped[list[Job]] = relationship(back_populates="trial", order_by="Job.id")
    observations: Mapped[list[Observation]] = relationship(
        back_populates="trial", order_by="Observation.resource"
    )


class Job(Base):
    """One Slurm job or local process running a trial from start_resource to target_resource.

    ``external_id`` is not unique: Slurm ids restart after a cluster reset and local pids are
    reused, so lookups use (backend, external_id) plus an active state.
    ``metric_offset`` is how many bytes of ``metric_path`` are already ingested.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(_in("backend", JOB_BACKENDS), name="backend"),
        CheckConstraint(_in("state", JOB_STATES), name="state"),
        Index(None, "study_id", "state"),
        Index(None, "backend", "external_id"),
        Index(None, "trial_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"))
    backend: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(64))
    start_resource: Mapped[int] = mapped_column(Integer)
    target_resource: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    metric_path: Mapped[str | None] = mapped_column(Text)
    metric_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    exit_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=server_now())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    trial: Mapped[Trial] = relationship(back_populates="jobs")


class Observation(Base):
    """A value a trial reported at one resource level; at most one per (trial, resource)."""

    __tablename__ = "observations"
    __table_args__ = (
        UniqueConstraint("trial_id", "resource"),
        CheckConstraint(_in("value_kind", VALUE_KINDS), name="value_kind"),
        CheckConstraint(
            "(value_kind = 'finite' AND value IS NOT NULL) "
            "OR (value_kind <> 'finite' AND value IS NULL)",
            name="value_matches_kind",
        ),
        Index(None, "study_id", "resource"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    resource: Mapped[int] = mapped_column(Integer)
    value: Mapped[float | None] = mapped_column(Float(precision=53))
    value_kind: Mapped[str] = mapped_column(String(8))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=server_now())

    trial: Mapped[Trial] = relationship(back_populates="observations")

    @property
    def objective(self) -> float:
        """The objective as a float, NaN and infinities included."""
        return decode_value(self.value, self.value_kind)


class Decision(Base):
    """Audit log of scheduler decisions; replaying it (with observations) rebuilds the scheduler."""

    __tablename__ = "decisions"
    __table_args__ = (
        UniqueConstraint("study_id", "seq"),
        CheckConstraint(_in("kind", DECISION_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    trial_id: Mapped[int | None] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=server_now())


class Lease(Base):
    """Which controller drives a study; expiry is judged by the DB server's clock."""

    __tablename__ = "leases"

    study_id: Mapped[int] = mapped_column(
        ForeignKey("studies.id", ondelete="CASCADE"), primary_key=True
    )
    owner: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


COMMAND_KINDS = ("pause", "resume", "stop", "cancel", "extend")


class Command(Base):
    """An operator's request (``slurmhpo pause|resume|stop|cancel|extend``) to a study.

    The CLI only inserts rows; the controller holding the study's lease carries them out at
    the start of its next cycle, in id order, and fills in ``applied_at`` (server clock),
    ``applied_by`` (its lease owner) and ``result``: that is the acknowledgement and the audit
    trail. A row with ``applied_at`` NULL is still pending.
    """

    __tablename__ = "commands"
    __table_args__ = (
        CheckConstraint(_in("kind", COMMAND_KINDS), name="kind"),
        Index(None, "study_id", "applied_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    args: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=server_now())
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    applied_by: Mapped[str | None] = mapped_column(String(200))
    result: Mapped[str | None] = mapped_column(Text)
