"""writing plans: a writer's text taken into the controlled draft

Revision ID: 0020_writing_writers
Revises: 0019_writing_plans
Create Date: 2026-12-06 21:45:00
"""
from alembic import op
import sqlalchemy as sa
import qms.db


revision = '0020_writing_writers'
down_revision = '0019_writing_plans'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('writing_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('taken_in_at', qms.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('writing_item', schema=None) as batch_op:
        batch_op.drop_column('taken_in_at')
