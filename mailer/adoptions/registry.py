"""Registrations, their review, and the count and public list, always derived from the records.

Functions here change the session's transaction, with the mail they queue; the caller (a view
or a command) commits it.
"""

import csv
import io
import re
from datetime import timedelta

from flask import current_app
from markupsafe import escape
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from .. import limits
from ..extensions import begin_write, db
from ..forms import has_control_characters
from ..models import Registration, Setting, utcnow
from ..outbox import mail_subject, queue_mail
from ..security import keyed_hash, mailbox, new_token, token_hash
from ..words import say
from .forms import (
    FORMULA_START,
    SECTORS,
    check_email,
    check_kvk,
    check_plain_text,
    check_sector,
    check_website,
    slugify,
)

BEFORE_REGISTRY = "adopters_before_registry"
REASON_MAX = 2000  # characters of a rejection reason, as the staff form allows
SLUG = re.compile(r"[a-z0-9-]{1,220}")  # what slugify makes, with "-<kvk>" when needed
REGISTRATION_FIELDS = ("company_name", "kvk", "sector", "website", "contact_name", "contact_email",
                       "adopted_policy", "warm_referral", "list_publicly")
STATUS_NAMES = {
    "unconfirmed": "onbevestigd",
    "pending": "te beoordelen",
    "approved": "goedgekeurd",
    "rejected": "afgewezen",
}


class RegistryError(Exception):
    """A review action that cannot be done; the message is Dutch and meant for staff."""


# -- the count and the public list ---------------------------------------------------------------

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


def adoption_count() -> dict:
    """The public count: approved registrations plus the adopters from before the registry."""
    approved, last_decided, before, set_at = db.session.execute(COUNT_QUERY).one()
    if before is None:
        before = current_app.config["ADOPTERS_BEFORE_REGISTRY"]
    times = [t for t in (last_decided, set_at) if t]
    updated = max(times) if times else utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    return {"count": approved + int(before), "updated": updated}


def _count_query():
    """One query for the count: approved ones, the last decision, and the pre-registry setting.

    Its parts are answered from indexes alone, however many registrations there are.
    """
    registration, setting = Registration.__table__, Setting.__table__
    approved = registration.c.status == "approved"
    is_before = setting.c.key == BEFORE_REGISTRY
    return select(
        select(func.count()).select_from(registration).where(approved).scalar_subquery(),
        select(func.max(registration.c.decided_at)).where(approved).scalar_subquery(),
        select(setting.c.value).where(is_before).scalar_subquery(),
        select(setting.c.updated_at).where(is_before).scalar_subquery(),
    )


COUNT_QUERY = _count_query()  # the same statement every time: made once


def public_adopters() -> list[dict]:
    """The approved adopters that agreed to be listed, newest first."""
    rows = db.session.scalars(
        select(Registration)
        .where(Registration.status == "approved", Registration.list_publicly.is_(True))
        .order_by(Registration.decided_at.desc(), Registration.id.desc())
    )
    return [
        {
            "name": row.company_name,
            "sector": SECTORS.get(row.sector, row.sector),
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
        "updated": iso_time(count["updated"]),
        "adopters": public_adopters(),
    }


def listed_adopter(slug: str) -> Registration | None:
    """The approved, listed adopter with this slug, for its badge; None for any other address
    (a slug is what `slugify` makes: PostgreSQL would refuse a NUL in it with an error)."""
    if not SLUG.fullmatch(slug):
        return None
    return db.session.scalar(
        select(Registration).where(Registration.slug == slug, Registration.status == "approved",
                                   Registration.list_publicly.is_(True))
    )


def badge_alt(name: str) -> str:
    """The text a badge stands for, for its alt text and its SVG title."""
    return say("meedoen", "badge.beschrijving", naam=name)


def badge_snippet(name: str, list_url: str, badge_url: str) -> str:
    """The HTML an adopter puts on its own site: the badge, linked to its entry on the list."""
    return (f'<a href="{escape(list_url)}"><img src="{escape(badge_url)}" '
            f'alt="{escape(badge_alt(name))}"></a>')


def badge_values(name: str, slug: str) -> dict:
    """The approval mail's badge: the entry on the list, the badge's address, its alt text,
    and the HTML that links the two."""
    site = current_app.config["SITE_URL"]
    list_url = f"{site}/deelnemers/#{slug}"
    badge_url = f"{site}/deelnemers/{slug}/badge.svg"
    return {"list_url": list_url, "badge_url": badge_url, "badge_alt": badge_alt(name),
            "snippet": badge_snippet(name, list_url, badge_url)}


def iso_time(moment) -> str:
    """A naive UTC time as ISO 8601 with a Z, e.g. 2026-11-23T14:05:00Z."""
    return moment.isoformat(timespec="seconds") + "Z"


# -- registering and confirming ------------------------------------------------------------------

def register(data: dict, client_key: str) -> bool:
    """Store a registration as unconfirmed and queue its confirmation mail.

    Returns False when this client registered too often (the caller answers "try later").
    Whether the KvK number is already known changes nothing here: the same answer and the
    same mail, so the form never tells a stranger which companies registered. Review keeps
    a company from counting twice.
    """
    config = current_app.config
    ip = ("join-ip:" + client_key, limits.windows(config["JOIN_LIMITS_PER_IP"]))
    address = ("join-to:" + keyed_hash(mailbox(data["contact_email"]), "join-address"),
               limits.windows(config["JOIN_LIMITS_PER_ADDRESS"]))
    limits.begin([ip[0], address[0]])
    refused = limits.take([ip, address])
    if ip[0] in refused:
        return False
    if refused:
        # Mail-bombing one address through this form: look like success, send nothing more.
        limits.take([ip])
        return True
    _delete_expired()
    token, hashed = new_token()
    registration = Registration(
        **{key: data[key] for key in REGISTRATION_FIELDS},
        token_hash=hashed,
        token_expires_at=utcnow() + timedelta(hours=config["JOIN_TOKEN_HOURS"]),
    )
    db.session.add(registration)
    site = config["SITE_URL"]
    _queue_mail("adoption_confirmation", registration,
                confirm_url=f"{site}/meedoen/bevestigen/{token}",
                hours=config["JOIN_TOKEN_HOURS"], sector=SECTORS[registration.sector])
    return True


def _queue_mail(template: str, registration: Registration, **context) -> None:
    """Queue a mail about a registration to its contact, who may answer it; its words and
    subject are those of `content/mails.yml`."""
    context = {"registration": mail_fields(registration), **context}
    queue_mail(template, registration.contact_email, mail_subject(template, **context), template,
               headers=contact_reply_to(), **context)


def mail_fields(registration: Registration) -> dict:
    """What the adoption mails show of a registration, as plain values for the outbox."""
    return {"company_name": registration.company_name, "contact_name": registration.contact_name,
            "kvk": registration.kvk, "list_publicly": registration.list_publicly}


def confirmation_state(token: str) -> str:
    """`valid`, `expired` or `unknown` (never issued, or used already) for a confirmation token."""
    registration = _by_token(token)
    if registration is None:
        return "unknown"
    return "valid" if registration.token_expires_at > utcnow() else "expired"


def confirm(token: str) -> str:
    """Confirm the registration of a valid token: it then waits for review; returns the state."""
    begin_write()
    state = confirmation_state(token)
    if state == "valid":
        registration = _by_token(token)
        registration.status = "pending"
        registration.confirmed_at = utcnow()
        # Single use: with the hash gone the link no longer matches anything.
        registration.token_hash = registration.token_expires_at = None
    return state


def purge_expired() -> int:
    """Erase registrations the privacy page says we no longer keep; returns how many went.

    Those are unconfirmed ones whose link expired, and rejected ones older than
    `JOIN_REJECTED_DAYS`: kept that long only to answer questions about the decision.
    """
    since = utcnow() - timedelta(days=current_app.config["JOIN_REJECTED_DAYS"])
    erased = _delete_expired() + db.session.execute(
        delete(Registration).where(Registration.status == "rejected",
                                   Registration.decided_at <= since)
    ).rowcount
    return erased


def _delete_expired() -> int:
    """Delete unconfirmed registrations past their link's expiry, as the privacy page promises."""
    result = db.session.execute(
        delete(Registration).where(Registration.status == "unconfirmed",
                                   Registration.token_expires_at <= utcnow())
    )
    return result.rowcount


def _by_token(token: str) -> Registration | None:
    """The unconfirmed registration a token belongs to."""
    if not 20 <= len(token) <= 100:
        return None
    return db.session.scalar(
        select(Registration).where(Registration.token_hash == token_hash(token),
                                   Registration.status == "unconfirmed")
    )


# -- review by staff -----------------------------------------------------------------------------

def registrations(status: str | None = None) -> list[Registration]:
    """All registrations, or those with one status, oldest first."""
    query = select(Registration).order_by(Registration.created_at, Registration.id)
    if status:
        query = query.where(Registration.status == status)
    return list(db.session.scalars(query))


def approve(kvk: str, registration_id: int | None = None) -> Registration:
    """Approve the confirmed registration of a KvK number and mail the contact its badge."""
    kvk = _staff_kvk(kvk)
    approved = _approved(kvk)
    if approved is not None:
        raise RegistryError(
            f"KvK {kvk} is al goedgekeurd ({approved.company_name}, id {approved.id}). "
            "Een onderneming telt maar één keer mee. Wijs deze aanmelding af."
        )
    registration = _pending(kvk, registration_id, "goedkeuren")
    registration.status = "approved"
    registration.decided_at = utcnow()
    registration.slug = _free_slug(registration.company_name, kvk)
    _queue_mail("adoption_approved", registration,
                **badge_values(registration.company_name, registration.slug))
    try:
        db.session.flush()
    except IntegrityError:  # approved at the same moment by someone else: the index held
        db.session.rollback()
        raise RegistryError(f"KvK {kvk} is net al goedgekeurd. Er is niets veranderd.") from None
    return registration


def reject(kvk: str, reason: str, registration_id: int | None = None) -> Registration:
    """Reject a confirmed registration and mail the contact the reason."""
    kvk = _staff_kvk(kvk)
    reason = reason.strip()
    if not reason:
        raise RegistryError("Geef een reden op met --reason. De contactpersoon krijgt die te zien.")
    if len(reason) > REASON_MAX:
        raise RegistryError(f"De reden mag niet langer zijn dan {REASON_MAX} tekens.")
    if has_control_characters(re.sub(r"[\r\n\t]", "", reason)):
        raise RegistryError("Gebruik in de reden geen onzichtbare tekens: alleen tekst, "
                            "regeleinden en tabs.")
    registration = _pending(kvk, registration_id, "afwijzen")
    registration.status = "rejected"
    registration.decided_at = utcnow()
    registration.reject_reason = reason
    _queue_mail("adoption_rejected", registration, reason=reason)
    return registration


def unlist(kvk: str) -> Registration:
    """Take an approved adopter off the public list; it still counts."""
    kvk = _staff_kvk(kvk)
    registration = _approved(kvk)
    if registration is None:
        raise RegistryError(f"Er is geen goedgekeurde onderneming met KvK {kvk}.")
    registration.list_publicly = False
    return registration


def import_adopters(text: str) -> list[tuple[int, str, str]]:
    """Record adopters from a CSV text as approved; per row (line, outcome, Dutch message).

    The outcome is `added`, `duplicate` or `invalid`.

    Columns: company_name, kvk, sector, and optionally website, list_publicly (ja/nee),
    contact_name, contact_email, separated by `,` or by `;` (as Dutch Excel and
    `export_adopters` write them). A KvK number that is already approved is skipped.
    """
    text = text.lstrip("\ufeff")
    try:
        reader = csv.DictReader(io.StringIO(text), delimiter=_delimiter(text))
        columns = reader.fieldnames or []
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as error:  # a field over the csv module's size limit, a stray quote
        raise RegistryError(f"Dit CSV-bestand is niet te lezen ({error}). Controleer het "
                            "bestand en probeer het opnieuw.") from None
    missing = {"company_name", "kvk", "sector"} - set(columns)
    if missing:
        raise RegistryError("Kolommen ontbreken in de eerste regel: " + ", ".join(sorted(missing)))
    results = []
    seen = set()
    for line, row in rows:
        try:
            registration = _imported(row)
        except ValueError as error:
            results.append((line, "invalid", f"fout, overgeslagen: {error}"))
            continue
        if registration.kvk in seen or _approved(registration.kvk) is not None:
            results.append((line, "duplicate",
                            f"overgeslagen: KvK {registration.kvk} telt al mee"))
            continue
        seen.add(registration.kvk)
        registration.slug = _free_slug(registration.company_name, registration.kvk)
        db.session.add(registration)
        db.session.flush()
        results.append((line, "added", f"toegevoegd: {registration.company_name} "
                                       f"(KvK {registration.kvk})"))
    return results


def _imported(row: dict) -> Registration:
    """A registration from one CSV row, approved now; ValueError with a Dutch message if wrong."""
    value = {key: _unquoted((row.get(key) or "").strip()) for key in row if key}
    name = check_plain_text(value.get("company_name", ""))
    if not name or len(name) > 200:
        raise ValueError("de naam van de onderneming ontbreekt of is te lang")
    listed = value.get("list_publicly", "").lower()
    if listed not in ("", "ja", "nee", "1", "0", "true", "false", "yes", "no"):
        raise ValueError(f"list_publicly moet ja of nee zijn, niet {listed[:40]!r}")
    contact = check_plain_text(value.get("contact_name", ""))
    if len(contact) > 100:
        raise ValueError("de naam van de contactpersoon is langer dan 100 tekens")
    now = utcnow()
    email = value.get("contact_email", "")
    if email:
        email = check_email(email)
    return Registration(
        company_name=name,
        kvk=check_kvk(value.get("kvk", "")),
        sector=check_sector(value.get("sector", "")),
        website=check_website(value.get("website", "")),
        contact_name=contact,
        contact_email=email,
        adopted_policy=True,
        list_publicly=listed in ("ja", "1", "true", "yes"),
        status="approved",
        created_at=now,
        decided_at=now,
    )


def _staff_kvk(kvk: str) -> str:
    """The KvK number staff typed, checked."""
    try:
        return check_kvk(kvk)
    except ValueError as error:
        raise RegistryError(str(error)) from None


def _approved(kvk: str) -> Registration | None:
    """The approved registration of a KvK number, if any (there is at most one)."""
    return db.session.scalar(
        select(Registration).where(Registration.kvk == kvk, Registration.status == "approved")
    )


def _pending(kvk: str, registration_id: int | None, action: str) -> Registration:
    """The one confirmed registration of a KvK number that waits for review."""
    rows = [r for r in registrations("pending") if r.kvk == kvk]
    if registration_id is not None:
        rows = [r for r in rows if r.id == registration_id]
    if len(rows) == 1:
        return rows[0]
    if len(rows) > 1:
        ids = ", ".join(str(r.id) for r in rows)
        raise RegistryError(f"KvK {kvk} heeft meer dan één aanmelding die wacht (id {ids}). "
                            f"Kies er één met --id om te {action}.")
    unconfirmed = [r for r in registrations("unconfirmed") if r.kvk == kvk]
    if unconfirmed:
        raise RegistryError(f"De aanmelding van KvK {kvk} is nog niet bevestigd via de e-mail. "
                            "Wacht tot de contactpersoon op de link heeft geklikt.")
    raise RegistryError(f"Er is geen aanmelding van KvK {kvk} die wacht op beoordeling.")


def _free_slug(name: str, kvk: str) -> str:
    """A slug for the public list that no other registration has."""
    base = slugify(name)
    for candidate in (base, f"{base}-{kvk}"):
        if db.session.scalar(select(Registration.id).where(Registration.slug == candidate)) is None:
            return candidate
    return f"{base}-{kvk}-{utcnow():%Y%m%d%H%M%S}"


# -- adopters edited by staff in the browser -----------------------------------------------------

EXPORT_COLUMNS = ("company_name", "kvk", "sector", "website", "list_publicly", "contact_name",
                  "contact_email", "decided_at")


def approved_adopter(registration_id: int) -> Registration:
    """The approved registration with this id, or a RegistryError for staff."""
    registration = db.session.get(Registration, registration_id)
    if registration is None or registration.status != "approved":
        raise RegistryError("Deze deelnemer bestaat niet (meer).")
    return registration


def edit_adopter(registration_id: int, fields: dict) -> Registration:
    """Change an adopter's public fields (name, sector, website, listing); the slug stays, so
    badges on other sites keep linking to it."""
    registration = approved_adopter(registration_id)
    for key in ("company_name", "sector", "website", "list_publicly"):
        if key in fields:
            setattr(registration, key, fields[key])
    return registration


def remove_adopter(registration_id: int) -> Registration:
    """Delete an adopter: it no longer counts nor shows anywhere."""
    registration = approved_adopter(registration_id)
    db.session.delete(registration)
    return registration


def add_adopter(fields: dict) -> Registration:
    """Record an adopter staff add by hand, approved now; a KvK number counts only once."""
    kvk = _staff_kvk(fields["kvk"])
    if _approved(kvk) is not None:
        raise RegistryError(f"KvK {kvk} telt al mee.")
    now = utcnow()
    registration = Registration(
        company_name=fields["company_name"], kvk=kvk, sector=fields["sector"],
        website=fields.get("website") or None, contact_name=fields.get("contact_name") or "",
        contact_email=fields.get("contact_email") or "", adopted_policy=True,
        warm_referral=bool(fields.get("warm_referral")),
        list_publicly=bool(fields.get("list_publicly")), status="approved", created_at=now,
        decided_at=now)
    registration.slug = _free_slug(registration.company_name, kvk)
    db.session.add(registration)
    db.session.flush()
    return registration


def spreadsheet_safe(value) -> str:
    """A cell a spreadsheet shows as text: one that starts like a formula gets a quote first."""
    text = "" if value is None else str(value)
    if text.startswith((*FORMULA_START, "\t", "\r", "\n")):
        return "'" + text
    return text


def _unquoted(text: str) -> str:
    """A cell as it was before `spreadsheet_safe` put a quote before it, so an export
    imports as it was stored."""
    if text.startswith("'") and spreadsheet_safe(text[1:]) == text:
        return text[1:]
    return text


def export_adopters() -> str:
    """The approved adopters as CSV for Dutch Excel: `;`, a UTF-8 BOM, no cell run as formula.

    The columns are those `import_adopters` reads, so an export can be imported again.
    """
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    rows = db.session.scalars(select(Registration).where(Registration.status == "approved")
                              .order_by(Registration.company_name, Registration.id))
    for row in rows:
        values = {key: getattr(row, key) for key in EXPORT_COLUMNS}
        values["list_publicly"] = "ja" if row.list_publicly else "nee"
        values["decided_at"] = row.decided_at.date().isoformat() if row.decided_at else ""
        writer.writerow([spreadsheet_safe(values[key]) for key in EXPORT_COLUMNS])
    return "\ufeff" + out.getvalue()


def _delimiter(text: str) -> str:
    """The separator of a CSV text: `;` when its first line has more of those than `,`."""
    first = text.split("\n", 1)[0]
    return ";" if first.count(";") > first.count(",") else ","


def contact_reply_to() -> dict[str, str] | None:
    """The Reply-To header of mails a person may answer: the coalition's contact address."""
    address = current_app.config.get("CONTACT_EMAIL")
    return {"Reply-To": address} if address else None
