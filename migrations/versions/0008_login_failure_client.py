"""the client of each failed login, for the per-client and per-(login, client) throttles

Rows recorded before this revision keep client NULL: they still count toward their login's
ceiling, and age out of the window within 30 minutes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 02:01:06
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate renders sqlmodel.sql.sqltypes.AutoString
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_index('ix_login_failure_at', ['at'], unique=False)
        batch_op.create_index('ix_login_failure_client_at', ['client', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.drop_index('ix_login_failure_client_at')
        batch_op.drop_index('ix_login_failure_at')
        batch_op.drop_column('client')
