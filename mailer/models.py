"""The database tables. Times are naive UTC (`utcnow()`), the same on SQLite and PostgreSQL."""

from datetime import UTC, datetime

from sqlalchemy import JSON, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import db


def utcnow() -> datetime:
    """The current time as naive UTC, the form every datetime column holds."""
    return datetime.now(UTC).replace(tzinfo=None)


class Setting(db.Model):
    """A value staff change without touching code, such as the adopters from before the registry."""

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OutboxMail(db.Model):
    """An email waiting to be sent, or the anonymous trace of one that was sent or failed.

    A waiting mail holds its template's name and the values to render it with (`context`).
    Once it is sent or has finally failed, every personal field (address, subject, context,
    headers) is erased; only the kind, status, counts, times and the keyed recipient hash stay.
    """

    __tablename__ = "outbox_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|sending|sent|failed
    recipient: Mapped[str | None] = mapped_column(String(254))
    recipient_hash: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(255))
    template: Mapped[str] = mapped_column(String(64))
    context: Mapped[dict | None] = mapped_column(JSON)
    headers: Mapped[dict | None] = mapped_column(JSON)
    message_id: Mapped[str] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_outbox_mail_due", "status", "next_attempt_at"),)


class OptOut(db.Model):
    """An address that never wants another tip, kept only as a keyed hash."""

    __tablename__ = "opt_out"

    address_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateEvent(db.Model):
    """One counted action for a rate limit; `key` is a keyed hash, never a raw IP or address."""

    __tablename__ = "rate_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    # A window's count is one range of this index.
    __table_args__ = (Index("ix_rate_event_key_at", "key", "at"),)


class Registration(db.Model):
    """A company's registration that it adopted the social collection policy."""

    id: Mapped[int] = mapped_column(primary_key=True)
    company_name: Mapped[str] = mapped_column(String(200))
    kvk: Mapped[str] = mapped_column(String(8), index=True)
    sector: Mapped[str] = mapped_column(String(40))
    website: Mapped[str | None] = mapped_column(String(200))
    contact_name: Mapped[str] = mapped_column(String(100))
    contact_email: Mapped[str] = mapped_column(String(254))
    adopted_policy: Mapped[bool] = mapped_column(default=False)
    warm_referral: Mapped[bool] = mapped_column(default=False)
    list_publicly: Mapped[bool] = mapped_column(default=False)
    # unconfirmed -> pending (confirmed by mail) -> approved | rejected
    status: Mapped[str] = mapped_column(String(16), default="unconfirmed")
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_expires_at: Mapped[datetime | None]
    slug: Mapped[str | None] = mapped_column(String(220), unique=True)
    reject_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]

    __table_args__ = (
        # The count and its last change come from this index alone, however many rows there are.
        Index("ix_registration_status_decided_at", "status", "decided_at"),
        # One approved registration per KvK number: a company never counts twice.
        Index(
            "uq_registration_approved_kvk",
            "kvk",
            unique=True,
            sqlite_where=text("status = 'approved'"),
            postgresql_where=text("status = 'approved'"),
        ),
    )
