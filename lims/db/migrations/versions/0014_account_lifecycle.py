"""accounts: person or service account, forced password change, case-insensitive usernames, revocation
counter, failed e-signature checks

``user_account.kind`` (UserKind): ``service`` for the accounts that held the marker hash ``!service-account``
(instruments, hubs: API keys only, never a signature); ``person`` for everyone else.
``user_account.must_change_password``: set by an administrator's password reset.
``uq_user_account_username_lower``: one account per username whatever its case (``Zhangwei`` = ``zhangwei``);
the upgrade stops, naming them, when two existing accounts differ only in case.
``login_failure.purpose``: ``login`` or ``signature``.
``auth_generation``: a counter every revocation raises, read by each API worker before it trusts a cached token.

Revision ID: 0014_account_lifecycle
Revises: 0013_report_conclusion
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_account_lifecycle"
down_revision = "0013_report_conclusion"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    clash = conn.execute(sa.text(
        "SELECT lower(username) FROM user_account GROUP BY lower(username) HAVING count(*) > 1")).scalars().all()
    if clash:
        raise RuntimeError("user_account: usernames that differ only in case must be renamed first: "
                           + ", ".join(sorted(clash)))
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=20), nullable=False, server_default="person"))
        batch_op.add_column(sa.Column("must_change_password", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    conn.execute(sa.text("UPDATE user_account SET kind = 'service' WHERE password_hash = '!service-account'"))
    op.create_index("uq_user_account_username_lower", "user_account", [sa.text("lower(username)")], unique=True)
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purpose", sa.String(length=20), nullable=False, server_default="login"))
    op.create_table("auth_generation",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("generation", sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint("id"))


def downgrade() -> None:
    op.drop_table("auth_generation")
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.drop_column("purpose")
    op.drop_index("uq_user_account_username_lower", table_name="user_account")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
        batch_op.drop_column("kind")
