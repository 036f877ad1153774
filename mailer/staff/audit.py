"""The audit log: every staff action, added to the session of the action itself, so the two are
committed together or not at all. Nothing here changes or deletes an entry except `purge`."""

from datetime import timedelta

from flask import current_app
from flask_login import current_user
from sqlalchemy import delete, select

from ..extensions import db
from ..models import AuditEntry, utcnow


def record(action: str, record: str | None = None, detail: str | None = None,
           actor: str | None = None) -> None:
    """Add an entry for an action by the signed-in staff member (or `actor`)."""
    if actor is None:
        actor = getattr(current_user, "email", None) or "onbekend"
    db.session.add(AuditEntry(actor=actor, action=action, record=record,
                              detail=(detail or None) and detail[:2000]))


def entries(limit: int = 200, offset: int = 0) -> list[AuditEntry]:
    """The newest entries first."""
    return list(db.session.scalars(
        select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit).offset(offset)))


def purge() -> int:
    """Delete entries older than `AUDIT_KEEP_DAYS` (two years); returns how many went."""
    since = utcnow() - timedelta(days=current_app.config["AUDIT_KEEP_DAYS"])
    return db.session.execute(delete(AuditEntry).where(AuditEntry.at <= since)).rowcount
