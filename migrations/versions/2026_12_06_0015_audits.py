"""internal audits: the annual programme, audits, criteria, checklist, photos, findings,
meetings

Revision ID: 0015_audits
Revises: 0014_nonconformity
Create Date: 2026-12-06 17:30:00
"""
from alembic import op
import sqlalchemy as sa
import qms.db


revision = "0015_audits"
down_revision = "0014_nonconformity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_programme',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('draft', 'submitted', 'approved', name='programmestate', native_enum=False, length=24), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('approved_at', qms.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_audit_programme_created_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_programme')),
    sa.UniqueConstraint('year', name=op.f('uq_audit_programme_year'))
    )
    op.create_table('audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('planned', 'notified', 'in_progress', 'reporting', 'reported', 'closed', 'cancelled', name='auditstate', native_enum=False, length=24), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('objectives', sa.Text(), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('audit_date', sa.Date(), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('lead_auditor_id', sa.Integer(), nullable=True),
    sa.Column('notice_date', sa.Date(), nullable=True),
    sa.Column('notified_at', qms.db.UTCDateTime(), nullable=True),
    sa.Column('opened_at', qms.db.UTCDateTime(), nullable=True),
    sa.Column('closing_date', sa.Date(), nullable=True),
    sa.Column('report_due', sa.Date(), nullable=True),
    sa.Column('report_submitted_on', sa.Date(), nullable=True),
    sa.Column('conclusions', sa.Text(), nullable=False),
    sa.Column('conformity_degree', sa.Text(), nullable=False),
    sa.Column('diverging_opinions', sa.Text(), nullable=False),
    sa.Column('distribution', sa.Text(), nullable=False),
    sa.Column('approved_at', qms.db.UTCDateTime(), nullable=True),
    sa.Column('created_at', qms.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_audit_department_id_department')),
    sa.ForeignKeyConstraint(['lead_auditor_id'], ['user.id'], name=op.f('fk_audit_lead_auditor_id_user')),
    sa.ForeignKeyConstraint(['programme_id'], ['audit_programme.id'], name=op.f('fk_audit_programme_id_audit_programme')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit'))
    )
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_audit_date'), ['audit_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_programme_id'), ['programme_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_state'), ['state'], unique=False)

    op.create_table('audit_attendance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audit_id', sa.Integer(), nullable=False),
    sa.Column('meeting', sa.Enum('opening', 'closing', name='meeting', native_enum=False, length=24), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['audit_id'], ['audit.id'], name=op.f('fk_audit_attendance_audit_id_audit')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_audit_attendance_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_attendance'))
    )
    with op.batch_alter_table('audit_attendance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_attendance_audit_id'), ['audit_id'], unique=False)

    op.create_table('audit_checklist_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audit_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('clause', sa.String(length=16), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('result', sa.Enum('open', 'conforms', 'nonconformity', 'observation', 'not_applicable', name='result', native_enum=False, length=24), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['audit_id'], ['audit.id'], name=op.f('fk_audit_checklist_item_audit_id_audit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checklist_item'))
    )
    with op.batch_alter_table('audit_checklist_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_checklist_item_audit_id'), ['audit_id'], unique=False)

    op.create_table('audit_criterion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audit_id', sa.Integer(), nullable=False),
    sa.Column('clause', sa.String(length=16), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('revision_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['audit_id'], ['audit.id'], name=op.f('fk_audit_criterion_audit_id_audit')),
    sa.ForeignKeyConstraint(['document_id'], ['document.id'], name=op.f('fk_audit_criterion_document_id_document')),
    sa.ForeignKeyConstraint(['revision_id'], ['revision.id'], name=op.f('fk_audit_criterion_revision_id_revision')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_criterion'))
    )
    with op.batch_alter_table('audit_criterion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_criterion_audit_id'), ['audit_id'], unique=False)

    op.create_table('audit_team_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audit_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['audit_id'], ['audit.id'], name=op.f('fk_audit_team_member_audit_id_audit')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_audit_team_member_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_team_member')),
    sa.UniqueConstraint('audit_id', 'user_id', name='uq_audit_team_member_audit_user')
    )
    with op.batch_alter_table('audit_team_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_team_member_audit_id'), ['audit_id'], unique=False)

    op.create_table('audit_finding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audit_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('grade', sa.Enum('serious', 'general', 'observation', 'improvement', name='grade', native_enum=False, length=24), nullable=False),
    sa.Column('criterion', sa.Text(), nullable=False),
    sa.Column('clause', sa.String(length=16), nullable=False),
    sa.Column('process_number', sa.String(length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('checklist_item_id', sa.Integer(), nullable=True),
    sa.Column('raised_by_id', sa.Integer(), nullable=False),
    sa.Column('raised_at', qms.db.UTCDateTime(), nullable=False),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.Column('acknowledged_at', qms.db.UTCDateTime(), nullable=True),
    sa.Column('nonconformity_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['user.id'], name=op.f('fk_audit_finding_acknowledged_by_id_user')),
    sa.ForeignKeyConstraint(['audit_id'], ['audit.id'], name=op.f('fk_audit_finding_audit_id_audit')),
    sa.ForeignKeyConstraint(['checklist_item_id'], ['audit_checklist_item.id'], name=op.f('fk_audit_finding_checklist_item_id_audit_checklist_item')),
    sa.ForeignKeyConstraint(['nonconformity_id'], ['nonconformity.id'], name=op.f('fk_audit_finding_nonconformity_id_nonconformity')),
    sa.ForeignKeyConstraint(['raised_by_id'], ['user.id'], name=op.f('fk_audit_finding_raised_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_finding')),
    sa.UniqueConstraint('audit_id', 'number', name='uq_audit_finding_audit_number')
    )
    with op.batch_alter_table('audit_finding', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_finding_audit_id'), ['audit_id'], unique=False)

    op.create_table('audit_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', qms.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['audit_checklist_item.id'], name=op.f('fk_audit_photo_item_id_audit_checklist_item')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user.id'], name=op.f('fk_audit_photo_uploaded_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_photo'))
    )
    with op.batch_alter_table('audit_photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_photo_item_id'), ['item_id'], unique=False)

    


def downgrade() -> None:
    with op.batch_alter_table('audit_photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_photo_item_id'))

    op.drop_table('audit_photo')
    with op.batch_alter_table('audit_finding', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_finding_audit_id'))

    op.drop_table('audit_finding')
    with op.batch_alter_table('audit_team_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_team_member_audit_id'))

    op.drop_table('audit_team_member')
    with op.batch_alter_table('audit_criterion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_criterion_audit_id'))

    op.drop_table('audit_criterion')
    with op.batch_alter_table('audit_checklist_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_checklist_item_audit_id'))

    op.drop_table('audit_checklist_item')
    with op.batch_alter_table('audit_attendance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_attendance_audit_id'))

    op.drop_table('audit_attendance')
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_state'))
        batch_op.drop_index(batch_op.f('ix_audit_programme_id'))
        batch_op.drop_index(batch_op.f('ix_audit_department_id'))
        batch_op.drop_index(batch_op.f('ix_audit_audit_date'))

    op.drop_table('audit')
    op.drop_table('audit_programme')
    
