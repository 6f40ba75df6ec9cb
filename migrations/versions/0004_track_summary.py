"""track summary: the 현황판's per-track counts, open items with a due date, app_meta

The rows themselves are built by the app at start (app.services.summary.ensure_current), which
finds no content version recorded yet and summarises every existing track.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 22:21:04.826008
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate renders sqlmodel.sql.sqltypes.AutoString
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('app_meta',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('track_due_item',
    sa.Column('track_id', sa.Integer(), nullable=False),
    sa.Column('item_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('lead', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.ForeignKeyConstraint(['track_id'], ['track.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('track_id', 'item_key')
    )
    with op.batch_alter_table('track_due_item', schema=None) as batch_op:
        batch_op.create_index('ix_track_due_item_due_date', ['due_date', 'track_id'], unique=False)

    op.create_table('track_summary',
    sa.Column('track_id', sa.Integer(), nullable=False),
    sa.Column('prepare_done', sa.Integer(), nullable=False),
    sa.Column('prepare_applicable', sa.Integer(), nullable=False),
    sa.Column('plan_done', sa.Integer(), nullable=False),
    sa.Column('plan_applicable', sa.Integer(), nullable=False),
    sa.Column('execute_done', sa.Integer(), nullable=False),
    sa.Column('execute_applicable', sa.Integer(), nullable=False),
    sa.Column('coop_done', sa.Integer(), nullable=False),
    sa.Column('coop_applicable', sa.Integer(), nullable=False),
    sa.Column('center_done', sa.Integer(), nullable=False),
    sa.Column('center_applicable', sa.Integer(), nullable=False),
    sa.Column('municipality_done', sa.Integer(), nullable=False),
    sa.Column('municipality_applicable', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('applicable', sa.Integer(), nullable=False),
    sa.Column('stage_rank', sa.Integer(), nullable=False),
    sa.Column('prepare_started', sa.Boolean(), nullable=False),
    sa.Column('plan_started', sa.Boolean(), nullable=False),
    sa.Column('execute_started', sa.Boolean(), nullable=False),
    sa.Column('open_earlier', sa.Integer(), nullable=False),
    sa.Column('awaiting_center', sa.Integer(), nullable=False),
    sa.Column('awaiting_municipality', sa.Integer(), nullable=False),
    sa.Column('last_activity_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_activity_role', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('prepare_completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('plan_completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('execute_completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['track_id'], ['track.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('track_id')
    )
    with op.batch_alter_table('track_summary', schema=None) as batch_op:
        batch_op.create_index('ix_track_summary_last_activity', ['last_activity_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_track_summary_stage_rank'), ['stage_rank'], unique=False)
    # Activity per week on the 현황판 reads the last 12 weeks of the log.
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.create_index('ix_event_at', ['at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_index('ix_event_at')
    with op.batch_alter_table('track_summary', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_track_summary_stage_rank'))
        batch_op.drop_index('ix_track_summary_last_activity')

    op.drop_table('track_summary')
    with op.batch_alter_table('track_due_item', schema=None) as batch_op:
        batch_op.drop_index('ix_track_due_item_due_date')

    op.drop_table('track_due_item')
    op.drop_table('app_meta')
