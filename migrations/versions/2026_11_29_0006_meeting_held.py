"""review meeting: where and how it was held, kept beside the signed plan

Revision ID: 0006_meeting_held
Revises: 0005_keyed_trail
Create Date: 2026-11-29 13:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0006_meeting_held"
down_revision = "0005_keyed_trail"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_place", sa.String(200), server_default="", nullable=False))
        batch_op.add_column(sa.Column("held_agenda", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_column("held_agenda")
        batch_op.drop_column("held_place")
