"""Pages of the invitation flow: /tip-een-collega/ form, preview, send, thanks, and opting out."""

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError

from ..extensions import begin_write, csrf, db
from ..forms import limited
from ..limits import client_key
from ..pages import render_message, render_page
from ..words import say, words
from .email import (
    LIMITED,
    SENT,
    load_pending,
    opt_out,
    opted_out_hash,
    preview,
    queue_invitations,
    sign_pending,
)
from .forms import WORDS, InviteForm

bp = Blueprint("invites", __name__)
PAGE = "tip-een-collega/"


@bp.get("/tip-een-collega/")
def form():
    """Show the empty form, stamped with the moment it was shown."""
    invite = InviteForm(formdata=None)
    invite.stamp()
    return render_form(invite)


@bp.post("/tip-een-collega/")
def check():
    """Check the form; show the exact email as a preview, or the form again with its errors."""
    invite = InviteForm(extra_keys=request.form.keys())
    if invite.is_bot:
        # Only a bot fills a field people cannot see: it gets the thank-you page and no mail.
        return redirect(url_for("invites.sent"), 303)
    valid = invite.validate_on_submit()
    if invite.refuse_hasty(current_app.config["INVITE_MIN_SECONDS"],
                           say(WORDS, "fouten.opnieuw")):
        valid = False
    if not valid:
        return render_form(invite)
    pending = invite.pending
    check = words(WORDS).controle
    body = render_template("invites/preview.html", mails=preview(pending), words=check,
                           pending=sign_pending(pending, invite.started.data))
    return render_page(PAGE, body, title=check.titel, replace=True)


@bp.post("/tip-een-collega/aanpassen")
def edit():
    """Go back from the preview to the form, filled in as it was."""
    pending = load_pending(request.form.get("pending"))
    if pending is None:
        return expired()
    data = {"voornaam": pending["voornaam"], "achternaam": pending["achternaam"],
            "started": pending["started"]}
    for number, address in enumerate(pending["to"], start=1):
        data[f"collega_{number}"] = address
    invite = InviteForm(formdata=None, data=data)
    if not invite.started.data:
        invite.stamp()
    return render_form(invite)


@bp.post("/tip-een-collega/versturen")
def send():
    """Queue the previewed mails in one transaction, then show the thank-you page."""
    pending = load_pending(request.form.get("pending"))
    if pending is None:
        return expired()
    outcome = queue_invitations(pending, client_key(request))
    if outcome == SENT:
        db.session.commit()
    else:  # a repeat or a limit: nothing of this submit is kept
        db.session.rollback()
    if outcome == LIMITED:
        return limited(PAGE, words(WORDS).paginas.te_veel)
    # A repeat looks like success: telling would reveal something about the colleague.
    return redirect(url_for("invites.sent"), 303)


@bp.get("/tip-een-collega/verstuurd/")
def sent():
    """Thank the sender."""
    return render_message(PAGE, words(WORDS).paginas.verstuurd)


@bp.get("/tip-een-collega/afmelden/<token>")
def confirm_opt_out(token: str):
    """Ask the colleague to confirm with a button: mail scanners open links, they do not post."""
    if opted_out_hash(token) is None:
        return bad_link()
    page = words(WORDS).paginas.afmelden
    button = render_template("invites/opt_out.html", token=token, button=page.knop)
    return render_message(PAGE, page, form=button)


@bp.post("/tip-een-collega/afmelden/<token>")
@csrf.exempt  # RFC 8058 one-click posts come from mail providers; the signed token is the proof
def opt_out_for_good(token: str):
    """Record the opt-out as a keyed hash; the button and the one-click header both post here."""
    address_hash = opted_out_hash(token)
    if address_hash is None:
        return bad_link()
    begin_write()
    opt_out(address_hash)
    db.session.commit()
    return render_message(PAGE, words(WORDS).paginas.afgemeld)


@bp.errorhandler(CSRFError)
def csrf_failed(error):
    """A form without a valid CSRF token (an old tab, cookies off): start again, plainly."""
    return expired()


def render_form(invite: InviteForm, status: int = 200):
    """The form inside the built page, with 'Fout:' in the title when it has errors."""
    body = render_template("invites/form.html", form=invite, words=words(WORDS).formulier)
    title = say("formulieren", "fout_titel") if invite.errors else None
    return render_page(PAGE, body, title=title, status=status)


def expired():
    """The form again, empty, with a message that the earlier one can no longer be used."""
    invite = InviteForm(formdata=None)
    invite.stamp()
    invite.form_errors.append(say(WORDS, "fouten.verlopen"))
    return render_form(invite, status=400)


def bad_link():
    """An opt-out link that was cut short or changed."""
    return render_message(PAGE, words(WORDS).paginas.link_werkt_niet, status=404)
