"""Decisions of kind ``warm_start``: the observations a warm-started searcher was fed.

A study whose ``[searcher]`` names ``warm_start`` studies records, as its first decision, the
observations of those studies it fed to its model; a restarted controller replays them from
there instead of reading the other studies again (they may have grown, or been deleted).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OLD_KINDS = "'start', 'resume', 'continue', 'pause', 'stop', 'fail', 'complete'"
NEW_KINDS = OLD_KINDS + ", 'warm_start'"


def _kinds(kinds: str) -> None:
    with op.batch_alter_table("decisions", recreate="always") as batch:
        batch.drop_constraint(op.f("ck_decisions_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_decisions_kind"), f"kind IN ({kinds})")


def upgrade() -> None:
    _kinds(NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM decisions WHERE kind = 'warm_start'")
    _kinds(OLD_KINDS)
