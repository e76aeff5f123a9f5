"""the worker: mail attempts and back-off, the daily jobs' log

Revision ID: 0009_worker
Revises: 0008_idempotency
Create Date: 2026-11-29 15:30:00
"""
from alembic import op
import sqlalchemy as sa
import qms.db


revision = '0009_worker'
down_revision = '0008_idempotency'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('mail_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('next_attempt_at', qms.db.UTCDateTime(), nullable=True))

    op.create_table('daily_job_run',
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('last_run_on', sa.Date(), nullable=True),
    sa.Column('last_run_at', qms.db.UTCDateTime(), nullable=True),
    sa.Column('last_result', sa.String(length=500), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('kind', name=op.f('pk_daily_job_run'))
    )


def downgrade() -> None:
    op.drop_table('daily_job_run')
    with op.batch_alter_table('mail_message', schema=None) as batch_op:
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('attempts')
