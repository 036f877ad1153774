"""Tell the coalition's review address of each confirmed registration, with a link to review it.

The outbox worker looks every few seconds (`notify_reviewers`), so the confirmation itself stays
as it is and a review address set later still hears of what waits. Each registration notes when
its mail was queued (`review_mailed_at`), in the mail's transaction; several workers skip the rows
another holds.
"""

from flask import current_app
from sqlalchemy import select

from ..adoptions.forms import SECTORS
from ..adoptions.registry import mail_fields
from ..extensions import begin_write, db
from ..models import Registration, utcnow
from ..outbox import mail_subject, queue_mail

WAITING = (Registration.status == "pending", Registration.review_mailed_at.is_(None))


def notify_reviewers() -> int:
    """Queue a mail to `REVIEW_EMAIL` for every confirmed registration not yet mailed about."""
    address = current_app.config["REVIEW_EMAIL"]
    if not address:
        return 0
    # A plain read first: most polls find no new confirmation and need no write lock.
    new = db.session.scalar(select(Registration.id).where(*WAITING).limit(1)) is not None
    db.session.rollback()
    if not new:
        return 0
    begin_write()
    waiting = list(db.session.scalars(
        select(Registration).where(*WAITING).order_by(Registration.confirmed_at, Registration.id)
        .with_for_update(skip_locked=True)))
    now = utcnow()
    for registration in waiting:
        queue_review_mail(address, registration)
        registration.review_mailed_at = now
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
