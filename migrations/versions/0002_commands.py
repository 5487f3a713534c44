"""Operator commands: the ``commands`` table (pause, resume, stop, cancel, extend).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COMMAND_KINDS = "'pause', 'resume', 'stop', 'cancel', 'extend'"


def upgrade() -> None:
    op.create_table(
        "commands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("applied_by", sa.String(200), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commands")),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["studies.id"],
            name=op.f("fk_commands_study_id_studies"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(f"kind IN ({COMMAND_KINDS})", name=op.f("ck_commands_kind")),
    )
    op.create_index(op.f("ix_commands_study_id_applied_at"), "commands", ["study_id", "applied_at"])


def downgrade() -> None:
    op.drop_table("commands")
