"""copies for the 현황판's speed: overdue / due-soon counts of the day, events per finished week

Both start empty: readers count from track_due_item and the event log until the app's start
(app.services.summary.ensure_current) fills them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('activity_week',
    sa.Column('track_id', sa.Integer(), nullable=False),
    sa.Column('week', sa.Date(), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['track_id'], ['track.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('track_id', 'week')
    )
    with op.batch_alter_table('activity_week', schema=None) as batch_op:
        batch_op.create_index('ix_activity_week_week', ['week', 'track_id'], unique=False)

    with op.batch_alter_table('track_summary', schema=None) as batch_op:
        batch_op.add_column(sa.Column('overdue', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('due_soon', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('due_as_of', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('track_summary', schema=None) as batch_op:
        batch_op.drop_column('due_as_of')
        batch_op.drop_column('due_soon')
        batch_op.drop_column('overdue')

    with op.batch_alter_table('activity_week', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_week_week')

    op.drop_table('activity_week')
