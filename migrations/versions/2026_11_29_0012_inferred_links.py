"""document links: inferred (our reading of the handbook) until the clerk confirms them

Revision ID: 0012_inferred_links
Revises: 0010_review_delegation
Create Date: 2026-11-29 15:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0012_inferred_links"
down_revision = "0010_review_delegation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("document_link", schema=None) as batch_op:
        batch_op.add_column(sa.Column("inferred", sa.Boolean(), server_default=sa.false(),
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("document_link", schema=None) as batch_op:
        batch_op.drop_column("inferred")
