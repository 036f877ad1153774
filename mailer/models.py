"""The database tables. Times are naive UTC (`utcnow()`), the same on SQLite and PostgreSQL."""

from datetime import UTC, date, datetime

from flask_security import RoleMixin, UserMixin
from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.ext.mutable import MutableList
from sqlalchemy.orm import Mapped, mapped_column, relationship

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
    # When the review address was mailed about it (`mailer.staff.review`); None: not yet.
    review_mailed_at: Mapped[datetime | None]

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


# -- staff accounts and their audit log ----------------------------------------------------------

staff_user_role = db.Table(
    "staff_user_role",
    db.Column("user_id", ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True),
    db.Column("role_id", ForeignKey("staff_role.id", ondelete="CASCADE"), primary_key=True),
)


class StaffRole(db.Model, RoleMixin):
    """A staff role: `staff` reviews and edits adopters, `admin` also manages accounts."""

    __tablename__ = "staff_role"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str | None] = mapped_column(String(255))


class StaffUser(db.Model, UserMixin):
    """A staff account, made on the command line only; two-factor with an authenticator app."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # Flask-Security keeps this in the session; a new value signs every session of the account out.
    fs_uniquifier: Mapped[str] = mapped_column(String(64), unique=True)
    confirmed_at: Mapped[datetime | None]
    tf_primary_method: Mapped[str | None] = mapped_column(String(64))
    tf_totp_secret: Mapped[str | None] = mapped_column(String(255))
    tf_phone_number: Mapped[str | None] = mapped_column(String(128))
    mf_recovery_codes: Mapped[list | None] = mapped_column(MutableList.as_mutable(JSON))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    roles: Mapped[list[StaffRole]] = relationship(secondary=staff_user_role, lazy="selectin")


class AuditEntry(db.Model):
    """One staff action: who, what, which record, when. Written in the action's transaction."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(254))  # the account's address, kept if it goes
    action: Mapped[str] = mapped_column(String(64))
    record: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[str | None] = mapped_column(Text)


class WeeklyTips(db.Model):
    """How many tips went out in a week (from its Monday), kept after the mails' traces go."""

    __tablename__ = "weekly_tips"

    week: Mapped[date] = mapped_column(primary_key=True)
    tips: Mapped[int] = mapped_column(default=0)
