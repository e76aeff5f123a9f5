"""review plan approvers: the general manager and his delegates

Revision ID: 0010_review_delegation
Revises: 0009_worker
Create Date: 2026-11-29 15:20:00
"""
from alembic import op
import sqlalchemy as sa
import qms.db


revision = '0010_review_delegation'
down_revision = '0009_worker'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('review_approver',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Enum('general_manager', 'delegate', name='approvercapacity', native_enum=False, length=24), nullable=False),
    sa.Column('delegated_by_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('granted_at', qms.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['delegated_by_id'], ['user.id'], name=op.f('fk_review_approver_delegated_by_id_user')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_review_approver_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_approver')),
    sa.UniqueConstraint('user_id', name=op.f('uq_review_approver_user_id'))
    )


def downgrade() -> None:
    op.drop_table('review_approver')
