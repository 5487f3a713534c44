"""A study identity that never repeats: ``studies.uid`` and the run folder ``studies.run_key``.

Before this revision a study's files lived in ``<runs_dir>/<name>/``, so a new study with an
old name (a fresh database, or re-created after a cancel) read the old study's metric files
as its own. New studies get ``run_key = <name>-<first 12 hex digits of uid>``; a study
registered before this revision keeps ``run_key = <name>``, where its files already are.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("studies") as batch:
        batch.add_column(sa.Column("uid", sa.String(32), nullable=True))
        batch.add_column(sa.Column("run_key", sa.String(150), nullable=True))
    studies = sa.table(
        "studies",
        sa.column("id", sa.Integer()),
        sa.column("name", sa.String(200)),
        sa.column("uid", sa.String(32)),
        sa.column("run_key", sa.String(150)),
    )
    connection = op.get_bind()
    for study_id, name in connection.execute(sa.select(studies.c.id, studies.c.name)).all():
        connection.execute(
            studies.update()
            .where(studies.c.id == study_id)
            .values(uid=uuid.uuid4().hex, run_key=name)
        )
    with op.batch_alter_table("studies") as batch:
        batch.alter_column("uid", existing_type=sa.String(32), nullable=False)
        batch.alter_column("run_key", existing_type=sa.String(150), nullable=False)
        batch.create_unique_constraint(op.f("uq_studies_uid"), ["uid"])
        batch.create_unique_constraint(op.f("uq_studies_run_key"), ["run_key"])


def downgrade() -> None:
    with op.batch_alter_table("studies") as batch:
        batch.drop_constraint(op.f("uq_studies_run_key"), type_="unique")
        batch.drop_constraint(op.f("uq_studies_uid"), type_="unique")
        batch.drop_column("run_key")
        batch.drop_column("uid")
