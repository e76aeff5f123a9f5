"""keyed trail: entries carry the scheme of their hash

Entries already in the table keep scheme 1 (unkeyed SHA-256) and are verified that way;
the application writes scheme 2 (HMAC-SHA256 with the trail key) from now on.

Revision ID: 0005_keyed_trail
Revises: 0004
Create Date: 2026-11-29 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0005_keyed_trail"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trail_entry", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hash_scheme", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("trail_entry", schema=None) as batch_op:
        batch_op.drop_column("hash_scheme")
