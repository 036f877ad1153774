"""Count from an index of status and decision time

Revision ID: 3dd15ae85f1c
Revises: 386c44f5966c
Create Date: 2026-11-23 13:38:43.302085

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3dd15ae85f1c'
down_revision = '386c44f5966c'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registration_status'))
        batch_op.create_index('ix_registration_status_decided_at', ['status', 'decided_at'], unique=False)



def downgrade():
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.drop_index('ix_registration_status_decided_at')
        batch_op.create_index(batch_op.f('ix_registration_status'), ['status'], unique=False)

