"""Each registration notes when the review address was mailed about it

Revision ID: 9d3b7e41c2a5
Revises: 550e016ff03d
Create Date: 2026-11-30 22:45:00.000000

A marker of the last confirmation time mailed missed a registration whose confirmation committed
after a later-stamped one (PostgreSQL commits side by side); each row now says so itself.
"""
from datetime import UTC, datetime, timedelta

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9d3b7e41c2a5'
down_revision = '550e016ff03d'
branch_labels = None
depends_on = None

MARKER = 'review_told_until'
registration = sa.table('registration', sa.column('confirmed_at', sa.DateTime()),
                        sa.column('review_mailed_at', sa.DateTime()))
setting = sa.table('setting', sa.column('key', sa.String()), sa.column('value', sa.String()),
                   sa.column('updated_at', sa.DateTime()))


def upgrade():
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_mailed_at', sa.DateTime(), nullable=True))
    # What the marker said was told counts as mailed; without a marker, what is older than the
    # day the worker would have looked back on its first run.
    bind = op.get_bind()
    told = bind.scalar(sa.select(setting.c.value).where(setting.c.key == MARKER))
    until = (datetime.fromisoformat(told) if told is not None
             else datetime.now(UTC).replace(tzinfo=None) - timedelta(days=1))
    op.execute(registration.update()
               .where(registration.c.confirmed_at.is_not(None),
                      registration.c.confirmed_at <= until)
               .values(review_mailed_at=registration.c.confirmed_at))
    op.execute(setting.delete().where(setting.c.key == MARKER))


def downgrade():
    bind = op.get_bind()
    told = bind.scalar(sa.select(sa.func.max(registration.c.confirmed_at))
                       .where(registration.c.review_mailed_at.is_not(None)))
    if told is not None:
        op.execute(setting.insert().values(key=MARKER, value=told.isoformat(),
                                           updated_at=datetime.now(UTC).replace(tzinfo=None)))
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.drop_column('review_mailed_at')
