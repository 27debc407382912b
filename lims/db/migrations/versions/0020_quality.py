"""quality system (issue 15): nonconformity risk/raised_by/containment; NC links and CAPA actions; QC runs,
targets and per-method Westgard rules; audit programmes, audits, findings, evidence; complaints; controlled
documents and their versions.

Revision ID: 0020_quality
Revises: 0019_hub
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0020_quality'
down_revision = '0019_hub'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_programme',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('year')
    )
    op.create_table('controlled_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('review_interval_months', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('method_westgard',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('method_code', sa.String(length=60), nullable=False),
    sa.Column('rules', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('method_code')
    )
    op.create_table('qc_target',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('material', sa.String(length=120), nullable=False),
    sa.Column('analyte', sa.String(length=120), nullable=False),
    sa.Column('instrument', sa.String(length=60), nullable=False),
    sa.Column('level', sa.String(length=40), nullable=False),
    sa.Column('mean', sa.Float(), nullable=False),
    sa.Column('sd', sa.Float(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('n_runs', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('material', 'analyte', 'instrument', 'level')
    )
    op.create_table('quality_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_kind', sa.String(length=20), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=400), nullable=False),
    sa.Column('uploaded_by', sa.String(length=120), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('capa_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nonconformity_id', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner', sa.String(length=120), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('done_note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['nonconformity_id'], ['nonconformity.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('complaint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('complainant', sa.String(length=200), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('resolution', sa.Text(), nullable=False),
    sa.Column('nonconformity_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['nonconformity_id'], ['nonconformity.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('document_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('approved_by', sa.String(length=120), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_review_on', sa.Date(), nullable=True),
    sa.Column('distribution', sa.JSON(), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['controlled_document.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('document_id', 'version')
    )
    op.create_table('nc_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nonconformity_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('ref', sa.String(length=200), nullable=False),
    sa.Column('containment', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['nonconformity_id'], ['nonconformity.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('nc_link', schema=None) as batch_op:
        batch_op.create_index('ix_nc_link_ref', ['kind', 'ref'], unique=False)

    op.create_table('quality_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('clauses', sa.JSON(), nullable=False),
    sa.Column('lead_auditor', sa.String(length=120), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['programme_id'], ['audit_programme.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('audit_finding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audit_id', sa.Integer(), nullable=False),
    sa.Column('clause', sa.String(length=30), nullable=False),
    sa.Column('grade', sa.String(length=20), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('nonconformity_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['audit_id'], ['quality_audit.id'], ),
    sa.ForeignKeyConstraint(['nonconformity_id'], ['nonconformity.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('qc_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('material', sa.String(length=120), nullable=False),
    sa.Column('analyte', sa.String(length=120), nullable=False),
    sa.Column('instrument', sa.String(length=60), nullable=False),
    sa.Column('method', sa.String(length=60), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('rules', sa.String(length=200), nullable=False),
    sa.Column('accepted', sa.Boolean(), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('rejections', sa.JSON(), nullable=False),
    sa.Column('nonconformity_id', sa.Integer(), nullable=True),
    sa.Column('run_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batch.id'], ),
    sa.ForeignKeyConstraint(['nonconformity_id'], ['nonconformity.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('qc_run', schema=None) as batch_op:
        batch_op.create_index('ix_qc_run_chart', ['material', 'analyte', 'instrument'], unique=False)

    op.create_table('qc_run_value',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('qc_run_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('mean', sa.Float(), nullable=False),
    sa.Column('sd', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['qc_run_id'], ['qc_run.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('nonconformity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('risk', sa.String(length=20), server_default='medium', nullable=False))
        batch_op.add_column(sa.Column('raised_by', sa.String(length=120), server_default='', nullable=False))
        batch_op.add_column(sa.Column('containment', sa.Text(), server_default='', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('nonconformity', schema=None) as batch_op:
        batch_op.drop_column('containment')
        batch_op.drop_column('raised_by')
        batch_op.drop_column('risk')

    op.drop_table('qc_run_value')
    with op.batch_alter_table('qc_run', schema=None) as batch_op:
        batch_op.drop_index('ix_qc_run_chart')

    op.drop_table('qc_run')
    op.drop_table('audit_finding')
    op.drop_table('quality_audit')
    with op.batch_alter_table('nc_link', schema=None) as batch_op:
        batch_op.drop_index('ix_nc_link_ref')

    op.drop_table('nc_link')
    op.drop_table('document_version')
    op.drop_table('complaint')
    op.drop_table('capa_action')
    op.drop_table('quality_evidence')
    op.drop_table('qc_target')
    op.drop_table('method_westgard')
    op.drop_table('controlled_document')
    op.drop_table('audit_programme')
