"""The outbox stores a mail's template and values, rendered by the worker

Revision ID: c4a9f2d81b3e
Revises: 7b1e0c2d9a41
Create Date: 2026-11-23 16:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4a9f2d81b3e'
down_revision = '7b1e0c2d9a41'
branch_labels = None
depends_on = None

UNSENT = "status IN ('queued', 'sending')"


def upgrade():
    # A mail queued by the previous version has bodies but no values to render it from.
    unsent = op.get_bind().execute(sa.text(f"SELECT count(*) FROM outbox_mail WHERE {UNSENT}"))
    waiting = unsent.scalar()
    if waiting:
        raise RuntimeError(
            f"Er staan nog {waiting} onverzonden mails in de outbox. Laat de huidige versie van "
            "`mailer worker` ze eerst versturen en voer daarna de upgrade opnieuw uit."
        )
    with op.batch_alter_table('outbox_mail', schema=None) as batch_op:
        batch_op.add_column(sa.Column('template', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('context', sa.JSON(), nullable=True))
        batch_op.drop_index('ix_outbox_mail_recipient_hash')
        batch_op.drop_column('text_body')
        batch_op.drop_column('html_body')
    # Every mail so far was rendered from the template named like its kind.
    op.execute("UPDATE outbox_mail SET template = kind")
    with op.batch_alter_table('outbox_mail', schema=None) as batch_op:
        batch_op.alter_column('template', existing_type=sa.String(length=64), nullable=False)


def downgrade():
    # Sent and failed mails are erased anyway; unsent ones would lose their values.
    unsent = op.get_bind().execute(sa.text(f"SELECT count(*) FROM outbox_mail WHERE {UNSENT}"))
    if unsent.scalar():
        raise RuntimeError("Er staan nog onverzonden mails in de outbox. Verstuur ze eerst.")
    with op.batch_alter_table('outbox_mail', schema=None) as batch_op:
        batch_op.add_column(sa.Column('html_body', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('text_body', sa.Text(), nullable=True))
        batch_op.create_index('ix_outbox_mail_recipient_hash', ['recipient_hash'], unique=False)
        batch_op.drop_column('context')
        batch_op.drop_column('template')
