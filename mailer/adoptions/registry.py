"""The adoption count and the public list, always derived from the records."""

from flask import current_app
from sqlalchemy import func, select

from ..extensions import db
from ..models import Registration, Setting, utcnow

BEFORE_REGISTRY = "adopters_before_registry"


def adopters_before_registry() -> int:
    """How many companies adopted the policy before the online registry, as staff set it."""
    setting = db.session.get(Setting, BEFORE_REGISTRY)
    if setting is None:
        return int(current_app.config["ADOPTERS_BEFORE_REGISTRY"])
    return int(setting.value)


def set_adopters_before_registry(number: int) -> None:
    """Record how many companies adopted the policy before the online registry."""
    setting = db.session.get(Setting, BEFORE_REGISTRY)
    if setting is None:
        db.session.add(Setting(key=BEFORE_REGISTRY, value=str(number)))
    else:
        setting.value = str(number)
    db.session.commit()


def adoption_count() -> dict:
    """The public count: approved registrations plus the adopters from before the registry."""
    approved, last_decided = db.session.execute(
        select(func.count(), func.max(Registration.decided_at))
        .where(Registration.status == "approved")
    ).one()
    setting = db.session.get(Setting, BEFORE_REGISTRY)
    times = [t for t in (last_decided, setting.updated_at if setting else None) if t]
    updated = max(times) if times else utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    return {"count": approved + adopters_before_registry(), "updated": updated}


def public_adopters() -> list[dict]:
    """The approved adopters that agreed to be listed, newest first."""
    rows = db.session.scalars(
        select(Registration)
        .where(Registration.status == "approved", Registration.list_publicly.is_(True))
        .order_by(Registration.decided_at.desc())
    )
    return [
        {
            "name": row.company_name,
            "sector": row.sector,
            "website": row.website,
            "slug": row.slug,
            "date": row.decided_at.date().isoformat() if row.decided_at else None,
        }
        for row in rows
    ]


def snapshot() -> dict:
    """Count and public list as one JSON-ready value, for the site build."""
    count = adoption_count()
    return {
        "count": count["count"],
        "updated": count["updated"].isoformat(timespec="seconds") + "Z",
        "adopters": public_adopters(),
    }
