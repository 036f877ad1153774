"""The staff pages at /beheer/: overview, registrations, adopters, outbox, opt-outs, mails, log.

Every view needs a signed-in staff member (`_require_staff`). A view that changes something
does it in one transaction (begun as a writer before the request's first query, see
`auth.py`) with its audit entry and, when the public count or list moved, the mark that makes
the worker rebuild the site; then it redirects (POST, redirect, GET).
"""

import re

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_security import url_for_security
from itsdangerous import BadSignature
from markupsafe import Markup
from sqlalchemy import func, select

from ..adoptions import registry
from ..adoptions.forms import SECTORS
from ..extensions import db
from ..invites.email import opt_out
from ..models import OptOut, OutboxMail, Registration, StaffUser, utcnow
from ..pages import render_page
from ..security import address_hash, serializer
from . import audit, figures, rebuild
from .auth import SHELL_PAGE, datastore
from .forms import (
    ActionForm,
    AddressForm,
    AdopterForm,
    BeforeRegistryForm,
    ImportConfirmForm,
    ImportForm,
    NewAdopterForm,
    RejectForm,
)
from .rebuild import mark_changed

bp = Blueprint("staff", __name__, url_prefix="/beheer")

PUBLIC_FIELDS = {"company_name": "naam", "sector": "sector", "website": "website",
                 "list_publicly": "op de lijst"}
IMPORT_MAX_BYTES = 300_000  # its signed copy in the preview stays below a form field's limit
NAV = [("staff.overview", "Overzicht"), ("staff.registrations", "Aanmeldingen"),
       ("staff.adopters", "Deelnemers"), ("staff.outbox", "Outbox"),
       ("staff.opt_outs", "Afmeldingen"), ("staff.mails", "E-mails"), ("staff.log", "Logboek")]


@bp.before_request
def _require_staff():
    """Refuse every staff page without a signed-in staff member; ask to sign in on a GET."""
    if not current_user.is_authenticated:
        if request.method == "GET":
            return redirect(url_for_security("login", next=request.path))
        abort(401)
    if not (current_user.has_role("staff") or current_user.has_role("admin")):
        abort(403)
    if not current_user.mf_recovery_codes:  # first sign-in: recovery codes before anything else
        return redirect(url_for_security("mf_recovery_codes"))
    return None


def page(template: str, title: str, status: int = 200, **context):
    """A staff page in the site's shell, with the staff menu and the sign-out button."""
    nav = NAV + ([("staff.accounts", "Accounts")] if current_user.has_role("admin") else [])
    body = render_template(template, nav=nav, title=title, logout_form=ActionForm(), **context)
    return render_page(SHELL_PAGE, body, title=title, status=status, replace=True)


def done(message: str, endpoint: str, **values):
    """Commit the action and its audit entry, say so, and go back to the page."""
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(endpoint, **values), 303)


def refused(message: str, endpoint: str, **values):
    """Undo what the action began, say why, and go back to the page."""
    db.session.rollback()
    flash(message, "error")
    return redirect(url_for(endpoint, **values), 303)


# -- Overzicht -----------------------------------------------------------------------------------

@bp.get("/")
def overview():
    """The campaign in figures, and a chart of adoptions and tips per week."""
    weeks = figures.per_week(12)
    return page("staff/overview.html", "Overzicht", counts=figures.counts(), weeks=weeks,
                chart=Markup(figures.chart_svg(weeks)), site=rebuild.status())


# -- Aanmeldingen --------------------------------------------------------------------------------

@bp.get("/aanmeldingen/")
def registrations():
    """The registrations waiting for review, with what a reviewer checks; and the decided ones."""
    waiting = registry.registrations("pending")
    decided = db.session.scalars(
        select(Registration).where(Registration.status.in_(["approved", "rejected"]))
        .order_by(Registration.decided_at.desc()).limit(100))
    kvk_approved = set(db.session.scalars(
        select(Registration.kvk).where(Registration.status == "approved",
                                       Registration.kvk.in_([r.kvk for r in waiting]))))
    return page("staff/registrations.html", "Aanmeldingen", waiting=waiting,
                decided=list(decided), kvk_approved=kvk_approved, sectors=SECTORS,
                action_form=ActionForm(), reject_form=RejectForm())


@bp.post("/aanmeldingen/<int:registration_id>/goedkeuren")
def approve(registration_id: int):
    """Approve a registration: it counts, is listed if it agreed, and the contact is mailed."""
    return _change_adopter(
        db.get_or_404(Registration, registration_id),
        lambda registration: registry.approve(registration.kvk, registration.id),
        "aanmelding goedgekeurd", "{name} is goedgekeurd. De contactpersoon krijgt een e-mail; "
        "de site toont het binnen een minuut.", ".registrations")


@bp.post("/aanmeldingen/<int:registration_id>/afwijzen")
def reject(registration_id: int):
    """Reject a registration with a reason, which is mailed to the contact."""
    form = RejectForm()
    if not form.validate():
        return refused(" ".join(form.reason.errors) or "Geef een reden op om af te wijzen.",
                       ".registrations")
    registration = db.get_or_404(Registration, registration_id)
    try:
        registry.reject(registration.kvk, form.reason.data, registration_id)
    except registry.RegistryError as error:
        return refused(str(error), ".registrations")
    audit.record("aanmelding afgewezen", _describe(registration), form.reason.data)
    return done(f"{registration.company_name} is afgewezen. De contactpersoon krijgt de reden "
                "per e-mail.", ".registrations")


def _describe(registration: Registration) -> str:
    """How the log names a registration: company, KvK number and id."""
    return f"{registration.company_name} (KvK {registration.kvk}, id {registration.id})"


# -- Deelnemers ----------------------------------------------------------------------------------

@bp.get("/deelnemers/")
def adopters():
    """The approved adopters, searchable, and the number from before the registry."""
    # Without control characters: PostgreSQL refuses a NUL in a text value with an error.
    query = "".join(char for char in request.args.get("q") or "" if char.isprintable())
    query = query.strip()[:100]
    statement = select(Registration).where(Registration.status == "approved")
    if query:
        like = "%" + re.sub(r"([%_\\])", r"\\\1", query) + "%"
        statement = statement.where(Registration.company_name.ilike(like, escape="\\")
                                    | Registration.kvk.like(like, escape="\\"))
    rows = db.session.scalars(statement.order_by(Registration.company_name))
    before = BeforeRegistryForm(number=registry.adopters_before_registry())
    return page("staff/adopters.html", "Deelnemers", adopters=list(rows), query=query,
                sectors=SECTORS, action_form=ActionForm(), before_form=before,
                count=registry.adoption_count()["count"])


@bp.post("/deelnemers/<int:registration_id>/van-de-lijst")
def unlist(registration_id: int):
    """Take an adopter off the public list; it still counts."""
    return _change_adopter(
        db.get_or_404(Registration, registration_id), _unlist,
        "van de openbare lijst gehaald", "{name} staat niet meer op de openbare lijst (telt wel "
        "mee). De site toont het binnen een minuut.", ".adopters")


def _unlist(registration: Registration) -> None:
    """Take this registration off the list if it is an adopter; by its id, not its KvK number,
    which a pending or rejected registration may share with the approved one."""
    registry.approved_adopter(registration.id).list_publicly = False


@bp.post("/deelnemers/voor-het-register")
def before_registry():
    """Set how many companies joined before the online registry."""
    form = BeforeRegistryForm()
    if not form.validate():
        return refused(" ".join(form.number.errors) or "Vul een aantal van 0 of meer in.",
                       ".adopters")
    old = registry.adopters_before_registry()
    registry.set_adopters_before_registry(form.number.data)
    audit.record("aantal van vóór het register gewijzigd", None, f"{old} → {form.number.data}")
    mark_changed()
    return done(f"Het aantal van vóór het register is nu {form.number.data}.", ".adopters")


@bp.get("/deelnemers/<int:registration_id>/")
def edit_adopter_form(registration_id: int):
    """The public fields of one adopter, and the button that removes it."""
    try:
        registration = registry.approved_adopter(registration_id)
    except registry.RegistryError:
        abort(404)
    return _adopter_page(AdopterForm(obj=registration), registration)


@bp.post("/deelnemers/<int:registration_id>/")
def edit_adopter(registration_id: int):
    """Save an adopter's public fields."""
    registration = db.get_or_404(Registration, registration_id)
    form = AdopterForm()
    if not form.validate():
        return _adopter_page(form, registration, status=400)
    before = {key: getattr(registration, key) for key in PUBLIC_FIELDS}
    try:
        fields = {key: form[key].data for key in PUBLIC_FIELDS}
        registry.edit_adopter(registration_id, fields)
    except registry.RegistryError as error:
        return refused(str(error), ".adopters")
    changes = [f"{PUBLIC_FIELDS[key]}: {before[key]} → {getattr(registration, key)}"
               for key in PUBLIC_FIELDS if before[key] != getattr(registration, key)]
    if not changes:
        return refused("Er was niets veranderd.", ".edit_adopter_form",
                       registration_id=registration_id)
    audit.record("deelnemer gewijzigd", _describe(registration), "; ".join(changes))
    mark_changed()
    return done(f"{registration.company_name} is bijgewerkt. De site toont het binnen een "
                "minuut.", ".adopters")


@bp.post("/deelnemers/<int:registration_id>/verwijderen")
def remove_adopter(registration_id: int):
    """Remove an adopter: it no longer counts nor shows anywhere."""
    return _change_adopter(
        db.get_or_404(Registration, registration_id),
        lambda registration: registry.remove_adopter(registration.id),
        "deelnemer verwijderd", "{name} is verwijderd en telt niet meer mee.", ".adopters")


def _change_adopter(registration: Registration, change, logged: str, message: str,
                    endpoint: str):
    """Make a change to the public count or list: logged, and the site marked for a rebuild,
    in the same transaction; a refusal is shown and changes nothing."""
    try:
        change(registration)
    except registry.RegistryError as error:
        return refused(str(error), endpoint)
    audit.record(logged, _describe(registration))
    mark_changed()
    return done(message.format(name=registration.company_name), endpoint)


def _adopter_page(form, registration: Registration, status: int = 200):
    """The edit page of one adopter."""
    return page("staff/adopter_form.html", f"{registration.company_name} wijzigen",
                status=status, form=form, registration=registration,
                action_form=ActionForm())


@bp.get("/deelnemers/nieuw")
def new_adopter_form():
    """Add an adopter by hand, for example one that joined by phone."""
    return page("staff/new_adopter.html", "Deelnemer toevoegen", form=NewAdopterForm())


@bp.post("/deelnemers/nieuw")
def new_adopter():
    """Record an adopter as approved now."""
    form = NewAdopterForm()
    if not form.validate():
        return page("staff/new_adopter.html", "Deelnemer toevoegen", status=400, form=form)
    try:
        registration = registry.add_adopter(form.data)
    except registry.RegistryError as error:
        db.session.rollback()
        form.kvk.errors = [str(error)]
        return page("staff/new_adopter.html", "Deelnemer toevoegen", status=400, form=form)
    audit.record("deelnemer toegevoegd", _describe(registration))
    mark_changed()
    return done(f"{registration.company_name} is toegevoegd en telt mee.", ".adopters")


@bp.post("/deelnemers/export.csv")
def export_adopters():
    """Download the adopters as CSV for Excel; who downloaded what is logged."""
    text = registry.export_adopters()
    audit.record("deelnemers geëxporteerd", None, f"{text.count(chr(10)) - 1} regels")
    db.session.commit()
    name = f"deelnemers-{utcnow():%Y-%m-%d}.csv"
    return current_app.response_class(text.encode("utf-8"), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/deelnemers/import")
def import_form():
    """Choose a CSV file of adopters; nothing is stored before the preview is confirmed."""
    return page("staff/import.html", "Deelnemers importeren", form=ImportForm(), rows=None)


@bp.post("/deelnemers/import")
def import_preview():
    """Show what an import would do, row by row, and store nothing."""
    form = ImportForm()
    if not form.validate():
        return page("staff/import.html", "Deelnemers importeren", status=400, form=form,
                    rows=None)
    raw = form.file.data.read(IMPORT_MAX_BYTES + 1)
    if len(raw) > IMPORT_MAX_BYTES:
        form.file.errors = ["Het bestand is te groot (meer dan 300 kB). Splits het in delen."]
        return page("staff/import.html", "Deelnemers importeren", status=400, form=form,
                    rows=None)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        form.file.errors = ["Sla het bestand op als CSV UTF-8 en kies het opnieuw."]
        return page("staff/import.html", "Deelnemers importeren", status=400, form=form,
                    rows=None)
    rows, error = _dry_run(text)
    confirm = ImportConfirmForm(csv_text=serializer("staff-import", timed=True).dumps(text))
    return page("staff/import.html", "Deelnemers importeren", form=form, rows=rows,
                error=error, confirm=confirm,
                adding=sum(1 for _, outcome, _ in rows if outcome == "added"))


@bp.post("/deelnemers/import/opslaan")
def import_adopters():
    """Store the previewed import."""
    form = ImportConfirmForm()
    try:
        text = serializer("staff-import", timed=True).loads(form.csv_text.data or "",
                                                            max_age=current_app.config["FORM_MAX_AGE"])
    except BadSignature:
        return refused("De voorbeeldweergave was verlopen. Kies het bestand opnieuw.",
                       ".import_form")
    if not form.validate():
        abort(400)
    try:
        rows = registry.import_adopters(text)
    except registry.RegistryError as error:
        return refused(str(error), ".import_form")
    added = [message for _, outcome, message in rows if outcome == "added"]
    if not added:
        return refused("Er was niets om toe te voegen.", ".import_form")
    audit.record("deelnemers geïmporteerd", f"{len(added)} toegevoegd", "; ".join(added))
    mark_changed()
    return done(f"{len(added)} deelnemers toegevoegd. De site toont ze binnen een minuut.",
                ".adopters")


def _dry_run(text: str) -> tuple[list, str | None]:
    """What `import_adopters` would do with `text`, undone at once by the rollback."""
    try:
        return registry.import_adopters(text), None
    except registry.RegistryError as error:
        return [], str(error)
    finally:
        db.session.rollback()


# -- Outbox --------------------------------------------------------------------------------------

@bp.get("/outbox/")
def outbox():
    """Mail per state; mails waiting for another try, and those that finally failed."""
    states = dict(db.session.execute(
        select(OutboxMail.status, func.count()).group_by(OutboxMail.status)).all())
    retrying = db.session.scalars(
        select(OutboxMail).where(OutboxMail.status == "queued", OutboxMail.attempts > 0)
        .order_by(OutboxMail.next_attempt_at).limit(100))
    failed = db.session.scalars(
        select(OutboxMail).where(OutboxMail.status == "failed")
        .order_by(OutboxMail.finished_at.desc()).limit(100))
    return page("staff/outbox.html", "Outbox", states=states, retrying=list(retrying),
                failed=list(failed), action_form=ActionForm())


@bp.post("/outbox/<int:mail_id>/nu-proberen")
def retry(mail_id: int):
    """Try a mail that waits for another attempt now instead of after its backoff."""
    mail = db.get_or_404(OutboxMail, mail_id)
    if mail.status != "queued":
        return refused("Deze mail wacht niet meer op een nieuwe poging.", ".outbox")
    mail.next_attempt_at = utcnow()
    audit.record("mail opnieuw geprobeerd", f"outbox {mail.id} ({mail.kind})")
    return done("De mail gaat bij de volgende ronde van de outbox opnieuw weg.", ".outbox")


# -- Afmeldingen ---------------------------------------------------------------------------------

@bp.get("/afmeldingen/")
def opt_outs():
    """How many addresses want no more tips; add or remove one by typing it."""
    number = db.session.scalar(select(func.count()).select_from(OptOut))
    return page("staff/opt_outs.html", "Afmeldingen", number=number,
                add_form=AddressForm(prefix="add"), remove_form=AddressForm(prefix="remove"))


@bp.post("/afmeldingen/toevoegen")
def add_opt_out():
    """Record an opt-out on someone's request; the address itself is never stored."""
    form = AddressForm(prefix="add")
    if not form.validate():
        return refused(" ".join(form.address.errors) or "Vul een e-mailadres in.", ".opt_outs")
    hashed = address_hash(form.address.data)
    if db.session.get(OptOut, hashed) is not None:
        return refused("Dit adres was al afgemeld.", ".opt_outs")
    opt_out(hashed)
    audit.record("afmelding toegevoegd")
    return done("Het adres is afgemeld: het krijgt geen tips meer.", ".opt_outs")


@bp.post("/afmeldingen/verwijderen")
def remove_opt_out():
    """Remove an opt-out on the owner's request."""
    form = AddressForm(prefix="remove")
    if not form.validate():
        return refused(" ".join(form.address.errors) or "Vul een e-mailadres in.", ".opt_outs")
    opt_out = db.session.get(OptOut, address_hash(form.address.data))
    if opt_out is None:
        return refused("Dit adres staat niet bij de afmeldingen.", ".opt_outs")
    db.session.delete(opt_out)
    audit.record("afmelding verwijderd")
    return done("De afmelding is verwijderd.", ".opt_outs")


# -- E-mails -------------------------------------------------------------------------------------

@bp.get("/e-mails/")
def mails():
    """Every mail the service sends, rendered with sample data as the recipient sees it."""
    return page("staff/mails.html", "E-mails", samples=figures.sample_mails())


# -- Accounts (admin) ----------------------------------------------------------------------------

def _require_admin() -> None:
    """Accounts are for admins only."""
    if not current_user.has_role("admin"):
        abort(403)


@bp.get("/accounts/")
def accounts():
    """The staff accounts; new ones are made on the command line (`mailer staff add`)."""
    _require_admin()
    rows = db.session.scalars(select(StaffUser).order_by(StaffUser.email))
    return page("staff/accounts.html", "Accounts", accounts=list(rows), action_form=ActionForm())


@bp.post("/accounts/<int:user_id>/tweede-stap-opnieuw")
def reset_second_step(user_id: int):
    """Make an account set up its authenticator app again (a lost phone); it is signed out."""
    _require_admin()
    user = db.get_or_404(StaffUser, user_id)
    datastore.reset_user_access(user)  # app and recovery codes gone; every session ends
    audit.record("tweede stap opnieuw ingesteld", user.email)
    return done(f"{user.email} stelt bij de volgende aanmelding de authenticator-app opnieuw in.",
                ".accounts")


@bp.post("/accounts/<int:user_id>/actief")
def toggle_active(user_id: int):
    """Block an account, or allow it again; a blocked account is signed out at once."""
    _require_admin()
    user = db.get_or_404(StaffUser, user_id)
    if user.id == current_user.id:
        return refused("U kunt uw eigen account niet blokkeren.", ".accounts")
    user.active = not user.active
    datastore.set_uniquifier(user)
    audit.record("account gedeblokkeerd" if user.active else "account geblokkeerd", user.email)
    state = "kan weer aanmelden" if user.active else "is geblokkeerd en afgemeld"
    return done(f"{user.email} {state}.", ".accounts")


# -- Logboek -------------------------------------------------------------------------------------

@bp.get("/logboek/")
def log():
    """Every staff action, newest first; kept two years; nobody can change it here."""
    offset = max(0, request.args.get("vanaf", 0, type=int))
    rows = audit.entries(200, offset)
    keep = current_app.config["AUDIT_KEEP_DAYS"]
    return page("staff/log.html", "Logboek", entries=rows, offset=offset, keep_days=keep)
