"""the data generation: one row whose value changes on every committed write (the page cache)

Revision ID: 0017_speed
Revises: 0015_audits
Create Date: 2026-12-06 17:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0017_speed"
down_revision = "0015_audits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_generation",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_generation")),
    )


def downgrade() -> None:
    op.drop_table("data_generation")
