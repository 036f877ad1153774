"""Rate events numbered per key, so a window is counted in two index lookups

Revision ID: 7b1e0c2d9a41
Revises: 3dd15ae85f1c
Create Date: 2026-11-23 14:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7b1e0c2d9a41'
down_revision = '3dd15ae85f1c'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rate_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
    # Number the events that are already there per key, oldest first (SQLite >= 3.33 and
    # PostgreSQL both know window functions and UPDATE ... FROM).
    op.execute(
        "UPDATE rate_event SET seq = numbered.seq FROM ("
        "SELECT id, row_number() OVER (PARTITION BY key ORDER BY at, id) AS seq FROM rate_event"
        ") AS numbered WHERE rate_event.id = numbered.id"
    )
    with op.batch_alter_table('rate_event', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_index('ix_rate_event_key_at')
        batch_op.create_index('ix_rate_event_key_at_seq', ['key', 'at', 'seq'], unique=False)


def downgrade():
    with op.batch_alter_table('rate_event', schema=None) as batch_op:
        batch_op.drop_index('ix_rate_event_key_at_seq')
        batch_op.create_index('ix_rate_event_key_at', ['key', 'at'], unique=False)
        batch_op.drop_column('seq')
