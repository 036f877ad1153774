"""initial tables

Revision ID: 386c44f5966c
Revises: 
Create Date: 2026-11-23 13:18:34.265069

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '386c44f5966c'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('opt_out',
    sa.Column('address_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('address_hash', name=op.f('pk_opt_out'))
    )
    op.create_table('outbox_mail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=True),
    sa.Column('recipient_hash', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=True),
    sa.Column('text_body', sa.Text(), nullable=True),
    sa.Column('html_body', sa.Text(), nullable=True),
    sa.Column('headers', sa.JSON(), nullable=True),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_mail'))
    )
    with op.batch_alter_table('outbox_mail', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_mail_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_mail_recipient_hash'), ['recipient_hash'], unique=False)

    op.create_table('rate_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_event'))
    )
    with op.batch_alter_table('rate_event', schema=None) as batch_op:
        batch_op.create_index('ix_rate_event_key_at', ['key', 'at'], unique=False)

    op.create_table('registration',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_name', sa.String(length=200), nullable=False),
    sa.Column('kvk', sa.String(length=8), nullable=False),
    sa.Column('sector', sa.String(length=40), nullable=False),
    sa.Column('website', sa.String(length=200), nullable=True),
    sa.Column('contact_name', sa.String(length=100), nullable=False),
    sa.Column('contact_email', sa.String(length=254), nullable=False),
    sa.Column('adopted_policy', sa.Boolean(), nullable=False),
    sa.Column('warm_referral', sa.Boolean(), nullable=False),
    sa.Column('list_publicly', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('token_expires_at', sa.DateTime(), nullable=True),
    sa.Column('slug', sa.String(length=220), nullable=True),
    sa.Column('reject_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registration')),
    sa.UniqueConstraint('slug', name=op.f('uq_registration_slug')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_registration_token_hash'))
    )
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registration_kvk'), ['kvk'], unique=False)
        batch_op.create_index(batch_op.f('ix_registration_status'), ['status'], unique=False)
        batch_op.create_index('uq_registration_approved_kvk', ['kvk'], unique=True, sqlite_where=sa.text("status = 'approved'"), postgresql_where=sa.text("status = 'approved'"))

    op.create_table('setting',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_setting'))
    )


def downgrade():
    op.drop_table('setting')
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.drop_index('uq_registration_approved_kvk', sqlite_where=sa.text("status = 'approved'"), postgresql_where=sa.text("status = 'approved'"))
        batch_op.drop_index(batch_op.f('ix_registration_status'))
        batch_op.drop_index(batch_op.f('ix_registration_kvk'))

    op.drop_table('registration')
    with op.batch_alter_table('rate_event', schema=None) as batch_op:
        batch_op.drop_index('ix_rate_event_key_at')

    op.drop_table('rate_event')
    with op.batch_alter_table('outbox_mail', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_mail_recipient_hash'))
        batch_op.drop_index('ix_outbox_mail_due')

    op.drop_table('outbox_mail')
    op.drop_table('opt_out')
