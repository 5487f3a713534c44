"""Migrations: every past revision upgrades to head keeping its data; models == migrations.

To add a revision: give it a row set in ROW_SETS (rows valid for the schema AT that
revision, inserted through reflected tables) so upgrades from it stay tested forever.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, Connection, Engine, MetaData, inspect

from slurmhpo.store import queries as q
from slurmhpo.store.commands import pending_commands, recent_commands
from slurmhpo.store.db import make_engine, read_session
from slurmhpo.store.leases import current_lease
from slurmhpo.store.migrate import downgrade, schema_status, script_directory, upgrade
from slurmhpo.store.models import Base

T0 = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
T1 = datetime(2026, 1, 1, 13, 0, 0, tzinfo=UTC)


def _rows_0001(conn: Connection, study_columns: dict[str, str] | None = None) -> None:
    """A study with a trial, a job, three observations (one NaN), a decision and a lease.

    ``study_columns``: the study's values of columns later revisions added.
    """
    tables = MetaData()
    tables.reflect(conn)
    t = tables.tables
    conn.execute(
        t["studies"].insert(),
        [
            {
                "id": 1, "name": "old", "spec": {"name": "old", "eta": 3}, "metric": "loss",
                "mode": "min", "state": "running", "last_decision_seq": 1,
                "created_at": T0, "updated_at": T0, "finished_at": None,
                **(study_columns or {}),
            }
        ],
    )  # fmt: skip
    conn.execute(
        t["trials"].insert(),
        [
            {
                "id": 1, "study_id": 1, "number": 0, "config": {"lr": 0.01}, "bracket": 0,
                "state": "paused", "reached_resource": 3, "failure_reason": None,
                "created_at": T0, "updated_at": T0,
            }
        ],
    )  # fmt: skip
    conn.execute(
        t["jobs"].insert(),
        [
            {
                "id": 1, "study_id": 1, "trial_id": 1, "backend": "slurm", "external_id": "4242",
                "start_resource": 0, "target_resource": 3, "state": "completed", "attempt": 0,
                "metric_path": "/scratch/m.jsonl", "metric_offset": 123, "exit_reason": None,
                "created_at": T0, "submitted_at": T0, "started_at": T0, "ended_at": T1,
            }
        ],
    )  # fmt: skip
    obs = [
        (1, 0.9, "finite"),
        (2, None, "nan"),
        (3, 0.5, "finite"),
    ]
    conn.execute(
        t["observations"].insert(),
        [
            {
                "study_id": 1, "trial_id": 1, "job_id": 1, "resource": r, "value": v,
                "value_kind": k, "metrics": {"loss": v if v is not None else "NaN"},
                "reported_at": T0, "ingested_at": T1,
            }
            for r, v, k in obs
        ],
    )  # fmt: skip
    conn.execute(
        t["decisions"].insert(),
        [
            {
                "study_id": 1, "trial_id": 1, "seq": 1, "kind": "pause",
                "payload": {"trial_id": 0, "rung": 3}, "reason": "top 1/3 of rung 3",
                "created_at": T1,
            }
        ],
    )  # fmt: skip
    conn.execute(
        t["leases"].insert(),
        [{"study_id": 1, "owner": "h:1:u", "acquired_at": T0, "heartbeat_at": T0,
          "expires_at": T1}],
    )  # fmt: skip


def _check_0001(engine: Engine) -> None:
    """The 0001 row set, read through today's models and queries.

    A study from before 0003 got a uid, and keeps its files where they are (run_key = name).
    """
    with read_session(engine) as s:
        study = q.get_study(s, "old")
        assert re.fullmatch("[0-9a-f]{32}", study.uid) and study.run_key == "old"
        assert (study.spec, study.state, study.created_at) == (
            {"name": "old", "eta": 3},
            "running",
            T0,
        )
        trial = q.get_trial(s, study, 0)
        assert (trial.config, trial.state, trial.reached_resource) == ({"lr": 0.01}, "paused", 3)
        values = [(o.resource, o.objective) for o in q.trial_observations(s, trial)]
        assert values[0] == (1, 0.9) and values[2] == (3, 0.5) and math.isnan(values[1][1])
        (job,) = q.trial_jobs(s, trial)
        assert (job.external_id, job.metric_offset, job.ended_at) == ("4242", 123, T1)
        (decision,) = q.list_decisions(s, study)
        assert (decision.seq, decision.payload) == (1, {"trial_id": 0, "rung": 3})
        lease = current_lease(s, study.id)
        assert lease is not None and lease[0].owner == "h:1:u" and lease[1] is False
        best = q.best_trial(s, study)
        assert best is not None and (best.trial.number, best.value) == (0, 0.5)


def _rows_0002(conn: Connection, study_columns: dict[str, str] | None = None) -> None:
    """The 0001 rows plus two commands of the study: one applied, one still pending."""
    _rows_0001(conn, study_columns)
    tables = MetaData()
    tables.reflect(conn)
    conn.execute(
        tables.tables["commands"].insert(),
        [
            {
                "id": 1, "study_id": 1, "kind": "extend", "args": {"max_trials": 20},
                "created_at": T0, "applied_at": T1, "applied_by": "h:1:u",
                "result": "budget now max_trials=20",
            },
            {
                "id": 2, "study_id": 1, "kind": "pause", "args": {}, "created_at": T1,
                "applied_at": None, "applied_by": None, "result": None,
            },
        ],
    )  # fmt: skip


def _check_0002(engine: Engine) -> None:
    """The 0002 row set: the 0001 rows, and the commands in order with their acknowledgement."""
    _check_0001(engine)
    with read_session(engine) as s:
        study = q.get_study(s, "old")
        newest, oldest = recent_commands(s, study.id)
        assert (oldest.kind, oldest.args, oldest.applied_at, oldest.applied_by) == (
            "extend",
            {"max_trials": 20},
            T1,
            "h:1:u",
        )
        assert [c.kind for c in pending_commands(s, study.id)] == ["pause"] == [newest.kind]


UID_0003 = "0123456789abcdef0123456789abcdef"


def _rows_0003(conn: Connection) -> None:
    """The 0002 rows, the study with the identity 0003 gives new studies."""
    _rows_0002(conn, {"uid": UID_0003, "run_key": "old-0123456789ab"})


def _check_0003(engine: Engine) -> None:
    """The 0003 row set: the 0002 rows, the study's identity kept as it was."""
    with read_session(engine) as s:
        study = q.get_study(s, "old")
        assert (study.uid, study.run_key) == (UID_0003, "old-0123456789ab")
    # the rest as in 0002, but for the identity (which _check_0001 expects from a migration)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE studies SET run_key = 'old' WHERE name = 'old'")
    _check_0002(engine)


def _insert_decision(conn: Connection, seq: int, kind: str, payload: dict) -> None:
    """One study-level decision row of study 1, written as that revision's schema has it."""
    tables = MetaData()
    tables.reflect(conn)
    row = {
        "study_id": 1, "trial_id": None, "seq": seq, "kind": kind, "payload": payload,
        "reason": None, "created_at": T1,
    }  # fmt: skip
    conn.execute(tables.tables["decisions"].insert(), [row])


def _rows_0004(conn: Connection) -> None:
    """The 0003 rows plus a ``warm_start`` decision, the kind 0004 allows."""
    _rows_0003(conn)
    _insert_decision(
        conn, 2, "warm_start", {"event": "warm_start", "sources": [], "observations": []}
    )


def _check_0004(engine: Engine) -> None:
    """The 0004 row set: the 0003 rows and the warm-start decision after the first one."""
    with read_session(engine) as s:
        kinds = [d.kind for d in q.list_decisions(s, q.get_study(s, "old"))]
    assert kinds == ["pause", "warm_start"]
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM decisions WHERE kind = 'warm_start'")
    _check_0003(engine)


@pytest.mark.parametrize(
    ("before", "insert_rows"),
    [("0003", lambda conn: _rows_0004(conn)), ("0004", lambda conn: _rows_0005(conn))],
    ids=["warm_start-0004", "exploit-0005"],
)
def test_a_decision_kind_is_refused_before_the_revision_that_allows_it(
    db_url: str, before: str, insert_rows: Callable[[Connection], None]
) -> None:
    """The CHECK on decisions.kind is what 0004 (warm_start) and 0005 (exploit) widen;
    without it the kind is refused."""
    engine = make_engine(db_url)
    try:
        upgrade(engine, before)
        with pytest.raises(Exception, match=r"(?i)check|constraint"), engine.begin() as conn:
            insert_rows(conn)
        upgrade(engine)
        with engine.begin() as conn:
            insert_rows(conn)
    finally:
        engine.dispose()


EXPLOIT = {
    "event": "suggested",
    "suggestion": {
        "kind": "exploit", "trial_id": 2, "config": {"x": 0.4}, "donor": 0, "replaces": 1,
        "start": 4, "target": 8,
    },
}  # fmt: skip


def _rows_0005(conn: Connection) -> None:
    """The 0004 rows plus an ``exploit`` decision, the kind 0005 allows."""
    _rows_0004(conn)
    _insert_decision(conn, 3, "exploit", EXPLOIT)


def _check_0005(engine: Engine) -> None:
    """The 0005 row set: the 0004 rows and the exploit decision with its lineage."""
    with read_session(engine) as s:
        decisions = q.list_decisions(s, q.get_study(s, "old"))
    assert [d.kind for d in decisions] == ["pause", "warm_start", "exploit"]
    assert decisions[-1].payload == EXPLOIT
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM decisions WHERE kind = 'exploit'")
    _check_0004(engine)


ROW_SETS: dict[str, tuple[Callable[[Connection], None], Callable[[Engine], None]]] = {
    "0001": (_rows_0001, _check_0001),
    "0002": (_rows_0002, _check_0002),
    "0003": (_rows_0003, _check_0003),
    "0004": (_rows_0004, _check_0004),
    "0005": (_rows_0005, _check_0005),
}


def _revisions() -> list[str]:
    """Every revision id, oldest first."""
    return [r.revision for r in reversed(list(script_directory().walk_revisions()))]


def test_every_revision_has_a_row_set() -> None:
    missing = set(_revisions()) - set(ROW_SETS)
    assert not missing, f"add a row set to ROW_SETS for revisions {sorted(missing)}"


@pytest.mark.parametrize("revision", _revisions())
def test_upgrade_from_each_revision_keeps_data(db_url: str, revision: str) -> None:
    engine = make_engine(db_url)
    try:
        assert upgrade(engine, revision) == revision
        insert_rows, _ = ROW_SETS[revision]
        with engine.begin() as conn:
            insert_rows(conn)
        assert upgrade(engine) == script_directory().get_current_head()
        _, check_rows = ROW_SETS[revision]
        check_rows(engine)
    finally:
        engine.dispose()


def test_models_and_migrations_give_the_same_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        inspector = inspect(conn)
        for name, table in Base.metadata.tables.items():
            # autogenerate ignores CHECK constraints: compare their names ourselves
            reflected = {c["name"] for c in inspector.get_check_constraints(name)}
            declared = {str(c.name) for c in table.constraints if isinstance(c, CheckConstraint)}
            assert reflected == declared, name


def test_downgrade_to_base_removes_everything_and_upgrade_restores(engine: Engine) -> None:
    assert downgrade(engine, "base") == "base"
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) & set(Base.metadata.tables) == set()
    assert schema_status(engine).current is None
    upgrade(engine)
    assert schema_status(engine).up_to_date
