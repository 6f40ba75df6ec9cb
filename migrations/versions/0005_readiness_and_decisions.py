"""readiness and decisions: 확인 notes, 보완 요청, evidence hashes, readiness counts, 위탁 결정

The summaries gain readiness counts: the recorded content version is dropped so the app
rebuilds every summary at its next start (app.services.summary.ensure_current).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 22:50:25.133690
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate renders sqlmodel.sql.sqltypes.AutoString
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('track_id', sa.Integer(), nullable=False),
    sa.Column('cooperative_id', sa.Integer(), nullable=False),
    sa.Column('municipality_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('decided_on', sa.Date(), nullable=False),
    sa.Column('document_number', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('conditions', sa.Text(), server_default='', nullable=False),
    sa.Column('reason', sa.Text(), server_default='', nullable=False),
    sa.Column('verdict', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('report_number', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('report_pdf', sa.LargeBinary(), nullable=False),
    sa.Column('report_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('document_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('document_stored_name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('document_content_type', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('document_size', sa.Integer(), nullable=False),
    sa.Column('document_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("outcome <> 'conditional' OR conditions <> ''", name='ck_decision_conditions'),
    sa.CheckConstraint("outcome <> 'deferred' OR reason <> ''", name='ck_decision_reason'),
    sa.CheckConstraint("outcome IN ('approved', 'conditional', 'deferred')", name='ck_decision_outcome'),
    sa.ForeignKeyConstraint(['cooperative_id'], ['cooperative.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['track_id'], ['track.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.create_index('ix_decision_track_id', ['track_id', 'id'], unique=False)

    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), server_default='', nullable=False))

    with op.batch_alter_table('item_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verified_note', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('change_request', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('change_requested_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('change_requested_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key('fk_item_state_change_requested_by_id_app_user', 'app_user', ['change_requested_by_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('track_summary', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consignment_applicable', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('consignment_done', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('consignment_verified', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('change_requests', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('decision', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))

    op.execute("DELETE FROM app_meta WHERE key = 'summary_content_version'")
    _append_only("decision")


def _append_only(table: str) -> None:
    """Like the event log: the database itself refuses to change or remove a decision."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{table} is append-only'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )



def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS decision_append_only ON decision")
        op.execute("DROP FUNCTION IF EXISTS decision_append_only()")
    with op.batch_alter_table('track_summary', schema=None) as batch_op:
        batch_op.drop_column('decision')
        batch_op.drop_column('change_requests')
        batch_op.drop_column('consignment_verified')
        batch_op.drop_column('consignment_done')
        batch_op.drop_column('consignment_applicable')

    with op.batch_alter_table('item_state', schema=None) as batch_op:
        batch_op.drop_constraint('fk_item_state_change_requested_by_id_app_user', type_='foreignkey')
        batch_op.drop_column('change_requested_at')
        batch_op.drop_column('change_requested_by_id')
        batch_op.drop_column('change_request')
        batch_op.drop_column('verified_note')

    with op.batch_alter_table('evidence', schema=None) as batch_op:
        batch_op.drop_column('sha256')

    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.drop_index('ix_decision_track_id')

    op.drop_table('decision')
