"""quality registers (issue 15): instrument register, calibration/verification/intermediate checks/maintenance,
time-limited instrument exceptions; material lots (derivation) and their use by batches/curves; training records and
the staff authorisation matrix; monitored environment locations and their temperature/humidity records.

Revision ID: 0022_registers
Revises: 0021_task_notice
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0022_registers'
down_revision = '0021_task_notice'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('env_location',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('temp_min_c', sa.Float(), nullable=True),
    sa.Column('temp_max_c', sa.Float(), nullable=True),
    sa.Column('rh_min_pct', sa.Float(), nullable=True),
    sa.Column('rh_max_pct', sa.Float(), nullable=True),
    sa.Column('sensor_url', sa.String(length=300), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('material_lot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('analyte_code', sa.String(length=60), nullable=False),
    sa.Column('supplier', sa.String(length=200), nullable=False),
    sa.Column('lot_no', sa.String(length=120), nullable=False),
    sa.Column('certificate_no', sa.String(length=120), nullable=False),
    sa.Column('concentration', sa.Float(), nullable=True),
    sa.Column('concentration_unit', sa.String(length=30), nullable=False),
    sa.Column('uncertainty', sa.Float(), nullable=True),
    sa.Column('manufactured_on', sa.Date(), nullable=True),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=True),
    sa.Column('in_use_days', sa.Integer(), nullable=True),
    sa.Column('storage', sa.String(length=200), nullable=False),
    sa.Column('parent_lot_id', sa.Integer(), nullable=True),
    sa.Column('dilution_factor', sa.Float(), nullable=True),
    sa.Column('prepared_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_lot_id'], ['material_lot.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('env_reading',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('temperature_c', sa.Float(), nullable=True),
    sa.Column('humidity_pct', sa.Float(), nullable=True),
    sa.Column('source', sa.String(length=30), nullable=False),
    sa.Column('alarm', sa.String(length=300), nullable=False),
    sa.Column('nonconformity_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['location_id'], ['env_location.id'], ),
    sa.ForeignKeyConstraint(['nonconformity_id'], ['nonconformity.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('location_id', 'at')
    )
    with op.batch_alter_table('env_reading', schema=None) as batch_op:
        batch_op.create_index('ix_env_reading_loc', ['location_id', 'at'], unique=False)

    op.create_table('instrument_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('performed_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('provider', sa.String(length=200), nullable=False),
    sa.Column('certificate_no', sa.String(length=120), nullable=False),
    sa.Column('certificate_sha256', sa.String(length=64), nullable=False),
    sa.Column('certificate_name', sa.String(length=200), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('acceptance', sa.Text(), nullable=False),
    sa.Column('recorded_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instrument_id'], ['instrument.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('instrument_check', schema=None) as batch_op:
        batch_op.create_index('ix_instrument_check_inst', ['instrument_id', 'kind', 'performed_on'], unique=False)

    op.create_table('instrument_exception',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('justification', sa.Text(), nullable=False),
    sa.Column('granted_by', sa.String(length=120), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instrument_id'], ['instrument.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('instrument_register',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('asset_no', sa.String(length=60), nullable=False),
    sa.Column('manufacturer', sa.String(length=120), nullable=False),
    sa.Column('model', sa.String(length=120), nullable=False),
    sa.Column('serial_no', sa.String(length=120), nullable=False),
    sa.Column('location', sa.String(length=120), nullable=False),
    sa.Column('calibration_interval_days', sa.Integer(), nullable=False),
    sa.Column('check_interval_days', sa.Integer(), nullable=True),
    sa.Column('in_service', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instrument_id'], ['instrument.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('instrument_id')
    )
    op.create_table('staff_authorisation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('method_id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=True),
    sa.Column('may_test', sa.Boolean(), nullable=False),
    sa.Column('may_review', sa.Boolean(), nullable=False),
    sa.Column('may_sign', sa.Boolean(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('granted_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instrument_id'], ['instrument.id'], ),
    sa.ForeignKeyConstraint(['method_id'], ['method.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('staff_authorisation', schema=None) as batch_op:
        batch_op.create_index('ix_staff_auth_user_method', ['user_id', 'method_id'], unique=False)

    op.create_table('training_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('method_id', sa.Integer(), nullable=True),
    sa.Column('completed_on', sa.Date(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('assessor', sa.String(length=120), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['method_id'], ['method.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('material_use',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('curve_id', sa.Integer(), nullable=True),
    sa.Column('used_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batch.id'], ),
    sa.ForeignKeyConstraint(['curve_id'], ['calibration_curve.id'], ),
    sa.ForeignKeyConstraint(['lot_id'], ['material_lot.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('material_use', schema=None) as batch_op:
        batch_op.create_index('ix_material_use_batch', ['batch_id'], unique=False)
        batch_op.create_index('ix_material_use_lot', ['lot_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('material_use', schema=None) as batch_op:
        batch_op.drop_index('ix_material_use_lot')
        batch_op.drop_index('ix_material_use_batch')

    op.drop_table('material_use')
    op.drop_table('training_record')
    with op.batch_alter_table('staff_authorisation', schema=None) as batch_op:
        batch_op.drop_index('ix_staff_auth_user_method')

    op.drop_table('staff_authorisation')
    op.drop_table('instrument_register')
    op.drop_table('instrument_exception')
    with op.batch_alter_table('instrument_check', schema=None) as batch_op:
        batch_op.drop_index('ix_instrument_check_inst')

    op.drop_table('instrument_check')
    with op.batch_alter_table('env_reading', schema=None) as batch_op:
        batch_op.drop_index('ix_env_reading_loc')

    op.drop_table('env_reading')
    op.drop_table('material_lot')
    op.drop_table('env_location')
