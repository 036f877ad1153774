"""Rate events are counted in their window, without a running number per key

Revision ID: 5e2f8a1c0d7b
Revises: c4a9f2d81b3e
Create Date: 2026-11-30 18:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e2f8a1c0d7b'
down_revision = 'c4a9f2d81b3e'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rate_event', schema=None) as batch_op:
        batch_op.drop_index('ix_rate_event_key_at_seq')
        batch_op.create_index('ix_rate_event_key_at', ['key', 'at'], unique=False)
        batch_op.drop_column('seq')


def downgrade():
    with op.batch_alter_table('rate_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
    op.execute(
        "UPDATE rate_event SET seq = numbered.seq FROM ("
        "SELECT id, row_number() OVER (PARTITION BY key ORDER BY at, id) AS seq FROM rate_event"
        ") AS numbered WHERE rate_event.id = numbered.id"
    )
    with op.batch_alter_table('rate_event', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_index('ix_rate_event_key_at')
        batch_op.create_index('ix_rate_event_key_at_seq', ['key', 'at', 'seq'], unique=False)
