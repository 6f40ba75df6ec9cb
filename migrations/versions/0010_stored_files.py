"""stored files: evidence bytes in the database when MAEUL_STORAGE=database

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 03:36:44.743483
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate renders sqlmodel.sql.sqltypes.AutoString
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('stored_file',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('stored_file_chunk',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['name'], ['stored_file.name'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('name', 'seq')
    )
    if op.get_bind().dialect.name == "postgresql":
        # PDFs, images and office files are compressed already: don't spend CPU trying again.
        op.execute("ALTER TABLE stored_file_chunk ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table('stored_file_chunk')
    op.drop_table('stored_file')
