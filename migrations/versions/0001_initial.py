"""Initial schema: studies, trials, jobs, observations, decisions, leases.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Constraint names are final (op.f): the models' naming convention must not rename them.

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STUDY_STATES = "'registered', 'running', 'paused', 'stopping', 'finished', 'cancelled', 'failed'"
TRIAL_STATES = "'pending', 'running', 'paused', 'stopped', 'completed', 'failed'"
JOB_STATES = (
    "'pending', 'submitted', 'running', 'completed', 'failed', 'cancelled', 'timeout', "
    "'preempted', 'lost'"
)
DECISION_KINDS = "'start', 'resume', 'continue', 'pause', 'stop', 'fail', 'complete'"


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _studies() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("metric", sa.String(200), nullable=False),
        sa.Column("mode", sa.String(3), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("last_decision_seq", sa.Integer(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("finished_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_studies")),
        sa.UniqueConstraint("name", name=op.f("uq_studies_name")),
        sa.CheckConstraint("mode IN ('min', 'max')", name=op.f("ck_studies_mode")),
        sa.CheckConstraint(f"state IN ({STUDY_STATES})", name=op.f("ck_studies_state")),
    )


def _trials() -> None:
    op.create_table(
        "trials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("bracket", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reached_resource", sa.Integer(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trials")),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["studies.id"],
            name=op.f("fk_trials_study_id_studies"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("study_id", "number", name=op.f("uq_trials_study_id_number")),
        sa.CheckConstraint(f"state IN ({TRIAL_STATES})", name=op.f("ck_trials_state")),
    )
    op.create_index(op.f("ix_trials_study_id_state"), "trials", ["study_id", "state"])


def _jobs() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=True),
        sa.Column("start_resource", sa.Integer(), nullable=False),
        sa.Column("target_resource", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("metric_path", sa.Text(), nullable=True),
        sa.Column("metric_offset", sa.BigInteger(), nullable=False),
        sa.Column("exit_reason", sa.Text(), nullable=True),
        _ts("created_at"),
        _ts("submitted_at", nullable=True),
        _ts("started_at", nullable=True),
        _ts("ended_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_jobs_study_id_studies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["trial_id"], ["trials.id"], name=op.f("fk_jobs_trial_id_trials"), ondelete="CASCADE"
        ),
        sa.CheckConstraint(
            "backend IN ('slurm', 'local', 'simulated')", name=op.f("ck_jobs_backend")
        ),
        sa.CheckConstraint(f"state IN ({JOB_STATES})", name=op.f("ck_jobs_state")),
    )
    op.create_index(op.f("ix_jobs_study_id_state"), "jobs", ["study_id", "state"])
    op.create_index(op.f("ix_jobs_backend_external_id"), "jobs", ["backend", "external_id"])
    op.create_index(op.f("ix_jobs_trial_id"), "jobs", ["trial_id"])


def _observations() -> None:
    op.create_table(
        "observations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("resource", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(precision=53), nullable=True),
        sa.Column("value_kind", sa.String(8), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        _ts("reported_at", nullable=True),
        _ts("ingested_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["studies.id"],
            name=op.f("fk_observations_study_id_studies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trial_id"],
            ["trials.id"],
            name=op.f("fk_observations_trial_id_trials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_observations_job_id_jobs"), ondelete="SET NULL"
        ),
        sa.UniqueConstraint("trial_id", "resource", name=op.f("uq_observations_trial_id_resource")),
        sa.CheckConstraint(
            "value_kind IN ('finite', 'nan', '+inf', '-inf')",
            name=op.f("ck_observations_value_kind"),
        ),
        sa.CheckConstraint(
            "(value_kind = 'finite' AND value IS NOT NULL) "
            "OR (value_kind <> 'finite' AND value IS NULL)",
            name=op.f("ck_observations_value_matches_kind"),
        ),
    )
    op.create_index(
        op.f("ix_observations_study_id_resource"), "observations", ["study_id", "resource"]
    )


def _decisions() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["studies.id"],
            name=op.f("fk_decisions_study_id_studies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trial_id"],
            ["trials.id"],
            name=op.f("fk_decisions_trial_id_trials"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("study_id", "seq", name=op.f("uq_decisions_study_id_seq")),
        sa.CheckConstraint(f"kind IN ({DECISION_KINDS})", name=op.f("ck_decisions_kind")),
    )


def _leases() -> None:
    op.create_table(
        "leases",
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        _ts("acquired_at"),
        _ts("heartbeat_at"),
        _ts("expires_at"),
        sa.PrimaryKeyConstraint("study_id", name=op.f("pk_leases")),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["studies.id"],
            name=op.f("fk_leases_study_id_studies"),
            ondelete="CASCADE",
        ),
    )


def upgrade() -> None:
    _studies()
    _trials()
    _jobs()
    _observations()
    _decisions()
    _leases()


def downgrade() -> None:
    for table in ("leases", "decisions", "observations", "jobs", "trials", "studies"):
        op.drop_table(table)
