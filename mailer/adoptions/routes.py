"""Pages of the Join flow: /meedoen/, its confirmation link, and the adopters' badges."""

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError

from ..extensions import db
from ..forms import limited
from ..limits import client_key
from ..pages import render_message, render_page
from ..words import say, words
from . import registry
from .forms import WORDS, RegistrationForm

bp = Blueprint("adoptions", __name__)


class ConfirmForm(FlaskForm):
    """The button that confirms a registration: only a POST with a CSRF token confirms."""


@bp.get("/meedoen/")
def register_form():
    """The registration form."""
    form = RegistrationForm()
    form.stamp()
    return _form_page(form)


@bp.post("/meedoen/")
def register():
    """Store a registration and mail the confirmation link; the same answer for every company."""
    form = RegistrationForm()
    if form.is_bot:
        # Only a bot fills a field people cannot see: it gets the usual answer and no mail.
        return redirect(url_for(".sent"), 303)
    valid = form.validate()
    if form.refuse_hasty(current_app.config["JOIN_MIN_FILL_SECONDS"],
                         say(WORDS, "fouten.opnieuw")):
        valid = False
    if not valid:
        return _form_page(form, status=400)
    fields = {name: form[name].data for name in registry.REGISTRATION_FIELDS}
    if not registry.register(fields, client_key(request)):
        db.session.rollback()  # nothing kept, and the write lock is free before the page renders
        return limited("meedoen/", words(WORDS).paginas.te_veel)
    db.session.commit()
    return redirect(url_for(".sent"), 303)


@bp.errorhandler(CSRFError)
def expired_form(error):
    """A form sent without a valid CSRF token: show it again with a fresh one and say why."""
    if request.endpoint == "adoptions.register":
        form = RegistrationForm()
        form.validate()
        form.csrf_token.errors = []
        if form.seconds_open() is None:
            form.stamp()
        form.form_errors.append(say(WORDS, "fouten.verlopen"))
        return _form_page(form, status=400)
    return render_message("meedoen/", words(WORDS).paginas.verlopen_pagina, status=400)


@bp.get("/meedoen/verstuurd/")
def sent():
    """Ask the visitor to open the confirmation mail."""
    return render_message("meedoen/", words(WORDS).paginas.verstuurd,
                          uren=current_app.config["JOIN_TOKEN_HOURS"])


@bp.get("/meedoen/bevestigen/<token>")
def confirm_form(token: str):
    """Show a button that confirms; opening the link alone (a mail scanner does) changes nothing."""
    state = registry.confirmation_state(token)
    if state != "valid":
        return _token_problem(state)
    page = words(WORDS).paginas.bevestigen
    button = render_template("adoptions/confirm_form.html", form=ConfirmForm(), words=page)
    return _private(render_message("meedoen/", page, form=button))


@bp.post("/meedoen/bevestigen/<token>")
def confirm(token: str):
    """Confirm the registration: it now waits for review by the coalition."""
    state = registry.confirm(token)
    if state != "valid":
        db.session.rollback()  # the write lock is free before the page renders
        return _token_problem(state)
    db.session.commit()
    return redirect(url_for(".confirmed"), 303)


@bp.get("/meedoen/bevestigd/")
def confirmed():
    """Thank the visitor: the registration is confirmed and waits for review."""
    return render_message("meedoen/", words(WORDS).paginas.bevestigd)


@bp.get("/deelnemers/<slug>/badge.svg")
def badge(slug: str):
    """An embeddable badge for a listed adopter, linking back to its entry on the list."""
    adopter = registry.listed_adopter(slug)
    if adopter is None:
        abort(404)
    name = adopter.company_name
    shown = name if len(name) <= 60 else name[:59].rstrip() + "…"
    svg = render_template("adoptions/badge.svg", title=registry.badge_alt(name), shown=shown,
                          line=words(WORDS).badge.regel, width=_badge_width(shown))
    response = current_app.response_class(svg, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=3600"
    # Other sites embed it; the site's own CSP header must not stop them showing it.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.add_etag()
    return response.make_conditional(request)


def _form_page(form: RegistrationForm, status: int = 200):
    """The registration page with the form, titled "Fout: ..." when it has errors."""
    body = render_template("adoptions/register_form.html", form=form,
                           words=words(WORDS).formulier)
    title = say("formulieren", "fout_titel") if form.errors else None
    return render_page("meedoen/", body, title=title, status=status)


def _token_problem(state: str):
    """A used, unknown or expired confirmation link: nothing happened, and what to do now."""
    pages = words(WORDS).paginas
    if state == "expired":
        page = render_message("meedoen/", pages.link_verlopen, status=410,
                              uren=current_app.config["JOIN_TOKEN_HOURS"])
    else:
        page = render_message("meedoen/", pages.link_werkt_niet, status=404)
    return _private(page)


def _private(page):
    """Keep a page with a token in its address out of every cache."""
    page.headers["Cache-Control"] = "no-store"
    return page


def _badge_width(name: str) -> int:
    """A badge wide enough for the name in bold 13px sans-serif (about 7.6 px a character)."""
    return max(280, 24 + int(len(name) * 7.6))
