"""Tell the coalition's review address of each confirmed registration, with a link to review it.

The outbox worker looks every few seconds (`notify_reviewers`), so the confirmation itself stays
as it is and a review address set later still hears of what waits. A marker in the database
holds the confirmation time up to which reviewers were told; several workers take turns on it.
"""

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from ..adoptions.forms import SECTORS
from ..adoptions.registry import mail_fields
from ..extensions import begin_write, db
from ..models import Registration, Setting, utcnow
from ..outbox import mail_subject, queue_mail

TOLD_UNTIL = "review_told_until"


def notify_reviewers() -> int:
    """Queue a mail to `REVIEW_EMAIL` for every registration confirmed since the last time."""
    address = current_app.config["REVIEW_EMAIL"]
    if not address:
        return 0
    # A plain read first: most polls find no new confirmation and need no write lock.
    marker = db.session.get(Setting, TOLD_UNTIL)
    new = marker is None or db.session.scalar(
        select(Registration.id).where(Registration.status == "pending",
                                      Registration.confirmed_at > datetime.fromisoformat(
                                          marker.value)).limit(1)) is not None
    db.session.rollback()
    if not new:
        return 0
    begin_write()
    marker = db.session.get(Setting, TOLD_UNTIL, with_for_update=True)
    if marker is None:  # the first time: what was confirmed in the last day
        since = utcnow() - timedelta(days=1)
        marker = Setting(key=TOLD_UNTIL, value=since.isoformat())
        db.session.add(marker)
    waiting = list(db.session.scalars(
        select(Registration)
        .where(Registration.status == "pending",
               Registration.confirmed_at > datetime.fromisoformat(marker.value))
        .order_by(Registration.confirmed_at)))
    for registration in waiting:
        queue_review_mail(address, registration)
    if waiting:
        marker.value = waiting[-1].confirmed_at.isoformat()
    db.session.commit()
    return len(waiting)


def queue_review_mail(address: str, registration: Registration) -> None:
    """The mail that tells reviewers of one registration."""
    values = review_mail_values(registration.id, mail_fields(registration),
                                SECTORS.get(registration.sector, registration.sector),
                                registration.website, registration.warm_referral)
    queue_mail("review_requested", address, mail_subject("review_requested", **values),
               "review_requested", **values)


def review_mail_values(registration_id: int, fields: dict, sector: str, website: str | None,
                       warm_referral: bool) -> dict:
    """The review mail's values (`mailer.outbox` fills `content/mails.yml` with them)."""
    site = current_app.config["SITE_URL"]
    return {"registration": fields, "sector": sector, "website": website,
            "warm_referral": warm_referral,
            "review_url": f"{site}/beheer/aanmeldingen/#reg-{registration_id}"}
