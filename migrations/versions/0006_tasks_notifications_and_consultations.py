"""tasks, notifications and consultations: assignee as a person, e-mail, calendar feed, 알림,
digests sent, 상담·지원 기록 and yearly center targets

Existing free-text assignees are kept as they are (assignee_id starts empty).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 00:46:55.858454
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate renders sqlmodel.sql.sqltypes.AutoString
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('center_target',
    sa.Column('center_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('metric', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('target', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['center_id'], ['support_center.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('center_id', 'year', 'metric')
    )
    op.create_table('digest_log',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('notifications', sa.Integer(), nullable=False),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'day')
    )
    op.create_table('notification_preference',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('muted_kinds', sa.JSON(), nullable=False),
    sa.Column('email_digest', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('consultation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cooperative_id', sa.Integer(), nullable=False),
    sa.Column('track_id', sa.Integer(), nullable=True),
    sa.Column('item_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('center_id', sa.Integer(), nullable=True),
    sa.Column('municipality_id', sa.Integer(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('request', sa.Text(), server_default='', nullable=False),
    sa.Column('advice', sa.Text(), server_default='', nullable=False),
    sa.Column('follow_up_on', sa.Date(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('resolution', sa.Text(), server_default='', nullable=False),
    sa.Column('resolved_on', sa.Date(), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("channel IN ('visit', 'phone', 'online', 'training')", name='ck_consultation_channel'),
    sa.CheckConstraint("status <> 'resolved' OR resolution <> ''", name='ck_consultation_resolution'),
    sa.CheckConstraint("status IN ('open', 'resolved')", name='ck_consultation_status'),
    sa.CheckConstraint('(center_id IS NOT NULL AND municipality_id IS NULL) OR (center_id IS NULL AND municipality_id IS NOT NULL)', name='ck_consultation_org'),
    sa.ForeignKeyConstraint(['author_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['center_id'], ['support_center.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['cooperative_id'], ['cooperative.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['track_id'], ['track.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('consultation', schema=None) as batch_op:
        batch_op.create_index('ix_consultation_center_held', ['center_id', 'held_on'], unique=False)
        batch_op.create_index('ix_consultation_cooperative', ['cooperative_id', 'held_on'], unique=False)
        batch_op.create_index('ix_consultation_follow_up', ['status', 'follow_up_on'], unique=False)

    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('cooperative_id', sa.Integer(), nullable=True),
    sa.Column('track_id', sa.Integer(), nullable=True),
    sa.Column('item_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('consultation_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('excerpt', sa.Text(), server_default='', nullable=False),
    sa.Column('dedupe_key', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('emailed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultation.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['cooperative_id'], ['cooperative.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['track_id'], ['track.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'dedupe_key', name='uq_notification_user_dedupe')
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_user_unread', ['user_id', 'read_at', 'id'], unique=False)

    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), server_default='', nullable=False))
        batch_op.add_column(sa.Column('calendar_token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_index('ix_app_user_calendar_token_hash', ['calendar_token_hash'], unique=True)

    with op.batch_alter_table('item_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assignee_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_item_state_assignee_id'), ['assignee_id'], unique=False)
        batch_op.create_foreign_key('fk_item_state_assignee_id_app_user', 'app_user', ['assignee_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('item_state', schema=None) as batch_op:
        batch_op.drop_constraint('fk_item_state_assignee_id_app_user', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_item_state_assignee_id'))
        batch_op.drop_column('assignee_id')

    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_index('ix_app_user_calendar_token_hash')
        batch_op.drop_column('calendar_token_hash')
        batch_op.drop_column('email')

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_user_unread')

    op.drop_table('notification')
    with op.batch_alter_table('consultation', schema=None) as batch_op:
        batch_op.drop_index('ix_consultation_follow_up')
        batch_op.drop_index('ix_consultation_cooperative')
        batch_op.drop_index('ix_consultation_center_held')

    op.drop_table('consultation')
    op.drop_table('notification_preference')
    op.drop_table('digest_log')
    op.drop_table('center_target')
