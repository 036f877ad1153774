"""Pages of the invitation flow: /tip-een-collega/ form, preview, send, thanks, and opting out."""

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError

from ..bot_traps import refuse_hasty, sign_started
from ..extensions import csrf, db
from ..limits import client_ip_key
from ..pages import render_page
from .email import (
    LIMITED,
    invitation_rows,
    load_pending,
    opt_out,
    opted_out_hash,
    preview,
    send_invitations,
    sign_pending,
)
from .forms import InviteForm

bp = Blueprint("invites", __name__)
PAGE = "tip-een-collega/"

DEFAULTS = {
    "INVITE_MIN_SECONDS": 3,  # people need longer than this to fill in the form; bots do not
    "INVITE_PREVIEW_MAX_AGE": 3600,  # seconds a preview can wait for Versturen
    "INVITE_LIMIT_IP_HOUR": 5,
    "INVITE_LIMIT_IP_DAY": 20,
    "INVITE_LIMIT_RECIPIENT_DAYS": 30,
    "INVITE_LIMIT_DOMAIN_DAY": 50,
    "INVITE_LIMIT_TOTAL_DAY": 1000,
    "INVITE_RETRY_AFTER": 3600,
}


@bp.record_once
def set_defaults(state):
    """Give the invite settings their defaults unless configuration already set them."""
    for key, value in DEFAULTS.items():
        state.app.config.setdefault(key, value)


@bp.get("/tip-een-collega/")
def form():
    """Show the empty form, stamped with the moment it was shown."""
    invite = InviteForm(formdata=None, started=sign_started("invite"))
    return render_form(invite)


@bp.post("/tip-een-collega/")
def check():
    """Check the form; show the exact email as a preview, or the form again with its errors."""
    invite = InviteForm(extra_keys=request.form.keys())
    if invite.trap_filled:
        # Only a bot fills a field people cannot see: it gets the thank-you page and no mail.
        return redirect(url_for("invites.sent"), 303)
    valid = invite.validate_on_submit()
    if refuse_hasty(invite, "invite", current_app.config["INVITE_MIN_SECONDS"],
                    "kies nog een keer voor ‘Bekijk de e-mail’"):
        valid = False
    if not valid:
        return render_form(invite)
    pending = invite.pending
    body = render_template("invites/preview.html", mails=preview(pending),
                           pending=sign_pending(pending, invite.started.data))
    return render_page(PAGE, body, title="Controleer uw tip", replace=True)


@bp.post("/tip-een-collega/aanpassen")
def edit():
    """Go back from the preview to the form, filled in as it was."""
    pending = load_pending(request.form.get("pending"))
    if pending is None:
        return expired()
    data = {"voornaam": pending["voornaam"], "achternaam": pending["achternaam"],
            "started": pending["started"] or sign_started("invite")}
    for number, address in enumerate(pending["to"], start=1):
        data[f"collega_{number}"] = address
    return render_form(InviteForm(formdata=None, data=data))


@bp.post("/tip-een-collega/versturen")
def send():
    """Queue the previewed mails in one transaction, then show the thank-you page."""
    pending = load_pending(request.form.get("pending"))
    if pending is None:
        return expired()
    # Everything that needs no database first: the shared write transaction runs only SQL.
    rows, client_key = invitation_rows(pending), client_ip_key(request)
    outcome = send_invitations(pending, rows, client_key)
    if outcome == LIMITED:
        return limited()
    return redirect(url_for("invites.sent"), 303)


@bp.get("/tip-een-collega/verstuurd/")
def sent():
    """Thank the sender."""
    body = render_template("invites/sent.html")
    return render_page(PAGE, body, title="Bedankt voor uw tip", replace=True)


@bp.get("/tip-een-collega/afmelden/<token>")
def confirm_opt_out(token: str):
    """Ask the colleague to confirm with a button: mail scanners open links, they do not post."""
    if opted_out_hash(token) is None:
        return bad_link()
    body = render_template("invites/opt_out.html", token=token)
    return render_page(PAGE, body, title="Afmelden voor tips", replace=True)


@bp.post("/tip-een-collega/afmelden/<token>")
@csrf.exempt  # RFC 8058 one-click posts come from mail providers; the signed token is the proof
def opt_out_for_good(token: str):
    """Record the opt-out as a keyed hash; the button and the one-click header both post here."""
    address_hash = opted_out_hash(token)
    if address_hash is None:
        return bad_link()
    opt_out(address_hash)
    db.session.commit()
    body = render_template("invites/opted_out.html")
    return render_page(PAGE, body, title="U bent afgemeld", replace=True)


@bp.errorhandler(CSRFError)
def csrf_failed(error):
    """A form without a valid CSRF token (an old tab, cookies off): start again, plainly."""
    return expired()


def render_form(invite: InviteForm, status: int = 200):
    """The form inside the built page, with 'Fout:' in the title when it has errors."""
    body = render_template("invites/form.html", form=invite)
    title = "Fout: controleer het formulier" if invite.errors else None
    return render_page(PAGE, body, title=title, status=status)


def expired():
    """The form again, empty, with a message that the earlier one can no longer be used."""
    invite = InviteForm(formdata=None, started=sign_started("invite"))
    invite.form_errors.append("Uw formulier is verlopen. Vul het opnieuw in. Er is nog niets "
                              "verstuurd.")
    return render_form(invite, status=400)


def limited():
    """A clear 'try later' with status 429, when saying so reveals nothing about anyone."""
    body = render_template("invites/limited.html")
    return render_page(PAGE, body, title="Probeer het later opnieuw", status=429, replace=True,
                       headers={"Retry-After": str(current_app.config["INVITE_RETRY_AFTER"])})


def bad_link():
    """An opt-out link that was cut short or changed."""
    body = render_template("invites/bad_link.html")
    return render_page(PAGE, body, title="Deze link werkt niet", status=404, replace=True)
