"""proficiency testing (provider and participant sides) and nonconformities

Revision ID: 0002_pt
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_pt"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('nonconformity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('source_ref', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('owner', sa.String(length=120), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('root_cause', sa.Text(), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('verification', sa.Text(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('nonconformity', schema=None) as batch_op:
        batch_op.create_index('ix_nonconformity_status', ['status'], unique=False)
    op.create_table('pt_scheme',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('provider_name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('pt_round',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scheme_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('matrix', sa.String(length=200), nullable=False),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('code_seed', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('scored_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['scheme_id'], ['pt_scheme.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('pt_participant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('lab_code', sa.String(length=60), nullable=False),
    sa.Column('lab_name', sa.String(length=200), nullable=False),
    sa.Column('contact', sa.String(length=200), nullable=False),
    sa.Column('az2', sa.Float(), nullable=True),
    sa.Column('rsz', sa.Float(), nullable=True),
    sa.Column('ssz', sa.Float(), nullable=True),
    sa.Column('false_positives', sa.Integer(), nullable=True),
    sa.Column('false_negatives', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['round_id'], ['pt_round.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('round_id', 'code'),
    sa.UniqueConstraint('round_id', 'lab_code')
    )
    op.create_table('pt_participation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_name', sa.String(length=200), nullable=False),
    sa.Column('round_code', sa.String(length=60), nullable=False),
    sa.Column('scheme_name', sa.String(length=200), nullable=False),
    sa.Column('lab_id', sa.Integer(), nullable=True),
    sa.Column('sample_id', sa.Integer(), nullable=True),
    sa.Column('participant_code', sa.String(length=40), nullable=False),
    sa.Column('round_date', sa.Date(), nullable=False),
    sa.Column('responsible', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lab_id'], ['lab.id'], ),
    sa.ForeignKeyConstraint(['sample_id'], ['sample.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider_name', 'round_code')
    )
    op.create_table('pt_round_analyte',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('name_zh', sa.String(length=120), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('mrrl', sa.Float(), nullable=False),
    sa.Column('present', sa.Boolean(), nullable=False),
    sa.Column('assigned_method', sa.String(length=20), nullable=False),
    sa.Column('reference_value', sa.Float(), nullable=True),
    sa.Column('reference_u', sa.Float(), nullable=True),
    sa.Column('sigma_method', sa.String(length=20), nullable=False),
    sa.Column('ffp_rsd', sa.Float(), nullable=True),
    sa.Column('assigned_value', sa.Float(), nullable=True),
    sa.Column('u_assigned', sa.Float(), nullable=True),
    sa.Column('sigma_pt', sa.Float(), nullable=True),
    sa.Column('robust_sd', sa.Float(), nullable=True),
    sa.Column('n_results', sa.Integer(), nullable=True),
    sa.Column('statistic', sa.String(length=4), nullable=True),
    sa.Column('homogeneity', sa.JSON(), nullable=True),
    sa.Column('stability', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['round_id'], ['pt_round.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('round_id', 'code')
    )
    op.create_table('pt_external_score',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participation_id', sa.Integer(), nullable=False),
    sa.Column('analyte', sa.String(length=120), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('result', sa.Float(), nullable=False),
    sa.Column('assigned_value', sa.Float(), nullable=False),
    sa.Column('sigma_pt', sa.Float(), nullable=False),
    sa.Column('u_assigned', sa.Float(), nullable=True),
    sa.Column('expanded_uncertainty', sa.Float(), nullable=True),
    sa.Column('statistic', sa.String(length=4), nullable=False),
    sa.Column('z', sa.Float(), nullable=False),
    sa.Column('en', sa.Float(), nullable=True),
    sa.Column('classification', sa.String(length=20), nullable=False),
    sa.Column('nonconformity_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['nonconformity_id'], ['nonconformity.id'], ),
    sa.ForeignKeyConstraint(['participation_id'], ['pt_participation.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('participation_id', 'analyte')
    )
    op.create_table('pt_submission',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('round_analyte_id', sa.Integer(), nullable=False),
    sa.Column('result', sa.Float(), nullable=True),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('method', sa.String(length=120), nullable=False),
    sa.Column('loq', sa.Float(), nullable=True),
    sa.Column('expanded_uncertainty', sa.Float(), nullable=True),
    sa.Column('coverage_factor', sa.Float(), nullable=True),
    sa.Column('recovery_percent', sa.Float(), nullable=True),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['pt_participant.id'], ),
    sa.ForeignKeyConstraint(['round_analyte_id'], ['pt_round_analyte.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('participant_id', 'round_analyte_id')
    )
    op.create_table('pt_test_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['participant_id'], ['pt_participant.id'], ),
    sa.ForeignKeyConstraint(['round_id'], ['pt_round.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('round_id', 'code')
    )
    op.create_table('pt_item_measurement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('round_analyte_id', sa.Integer(), nullable=False),
    sa.Column('study', sa.String(length=20), nullable=False),
    sa.Column('replicate', sa.Integer(), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['pt_test_item.id'], ),
    sa.ForeignKeyConstraint(['round_analyte_id'], ['pt_round_analyte.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('item_id', 'round_analyte_id', 'study', 'replicate')
    )
    op.create_table('pt_score',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('round_analyte_id', sa.Integer(), nullable=False),
    sa.Column('d', sa.Float(), nullable=True),
    sa.Column('d_percent', sa.Float(), nullable=True),
    sa.Column('z', sa.Float(), nullable=True),
    sa.Column('z_prime', sa.Float(), nullable=True),
    sa.Column('statistic', sa.String(length=4), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('classification', sa.String(length=20), nullable=True),
    sa.Column('zeta', sa.Float(), nullable=True),
    sa.Column('en', sa.Float(), nullable=True),
    sa.Column('en_action', sa.Boolean(), nullable=True),
    sa.Column('detection', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['pt_participant.id'], ),
    sa.ForeignKeyConstraint(['round_analyte_id'], ['pt_round_analyte.id'], ),
    sa.ForeignKeyConstraint(['submission_id'], ['pt_submission.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('submission_id')
    )


def downgrade() -> None:
    for table in ("pt_score", "pt_item_measurement", "pt_test_item", "pt_submission", "pt_external_score",
                  "pt_round_analyte", "pt_participation", "pt_participant", "pt_round", "pt_scheme"):
        op.drop_table(table)
    with op.batch_alter_table("nonconformity", schema=None) as batch_op:
        batch_op.drop_index("ix_nonconformity_status")
    op.drop_table("nonconformity")
