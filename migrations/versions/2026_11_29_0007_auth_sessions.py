"""server-side sessions, expiring tokens, sign-in attempts

Revision ID: 0007_auth_sessions
Revises: 0006_meeting_held
Create Date: 2026-11-29 12:10:00
"""
from alembic import op
import sqlalchemy as sa
import qms.db


revision = '0007_auth_sessions'
down_revision = '0006_meeting_held'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', qms.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('revoke_reason', sa.String(length=40), server_default='', nullable=False))

    op.create_table('user_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('sid_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('ended_at', qms.db.UTCDateTime(), nullable=True),
    sa.Column('end_reason', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_user_session_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_session')),
    sa.UniqueConstraint('sid_sha256', name=op.f('uq_user_session_sid_sha256'))
    )
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_session_user_id'), ['user_id'], unique=False)

    op.create_table('sign_in_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_attempt'))
    )
    with op.batch_alter_table('sign_in_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_attempt_address'), ['address'], unique=False)
        batch_op.create_index(batch_op.f('ix_sign_in_attempt_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sign_in_attempt_username'), ['username'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sign_in_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_attempt_username'))
        batch_op.drop_index(batch_op.f('ix_sign_in_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_sign_in_attempt_address'))
    op.drop_table('sign_in_attempt')
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_session_user_id'))
    op.drop_table('user_session')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('revoke_reason')
        batch_op.drop_column('expires_at')
