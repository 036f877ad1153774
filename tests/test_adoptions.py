"""Join: register, confirm through the mailed link, review from the command line, and the count."""

import re
import sqlite3
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest
from conftest import build_site
from sqlalchemy import func, select

import mailer.adoptions.routes as routes
from mailer.adoptions.forms import SECTORS, slugify
from mailer.extensions import db
from mailer.models import OutboxMail, Registration, Setting, utcnow
from mailer.outbox import send_due_mail

SITE = "https://schuldeiserscoalitie.test"
VALID = {
    "company_name": "Waterbedrijf Voorbeeld",
    "kvk": "12345678",
    "sector": "water",
    "website": "https://www.waterbedrijf-voorbeeld.nl",
    "contact_name": "Anna de Vries",
    "contact_email": "anna@waterbedrijf-voorbeeld.nl",
    "adopted_policy": "y",
    "list_publicly": "y",
}
TEXT_FIELDS = ["company_name", "kvk", "sector", "website", "contact_name", "contact_email"]


@pytest.fixture(autouse=True)
def quick_forms(app):
    """People in these tests fill in the form in no time."""
    app.config["JOIN_MIN_FILL_SECONDS"] = 0


def hidden_fields(html: str) -> dict:
    """The hidden inputs of a page's form (CSRF token and the time stamp)."""
    return {unescape(name): unescape(value) for name, value in re.findall(
        r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html)} | {
        unescape(name): unescape(value) for name, value in re.findall(
            r'<input[^>]*name="([^"]+)"[^>]*type="hidden"[^>]*value="([^"]*)"', html)}


def post_registration(client, **changes):
    """Fill in the form as a visitor would (the given fields changed; None leaves one out)."""
    page = client.get("/meedoen/")
    assert page.status_code == 200
    data = {**VALID, **changes}
    data = {key: value for key, value in data.items() if value is not None}
    return client.post("/meedoen/", data={**hidden_fields(page.text), **data})


def deliver(app, smtp) -> list:
    """Let the outbox worker send what is due; the messages the SMTP server got so far."""
    with app.app_context():
        send_due_mail()
    return smtp.messages


def text_part(message) -> str:
    """The plain-text part of a received email."""
    return message.get_body(("plain",)).get_content()


def confirmation_link(message) -> str:
    """The path of the confirmation link in a received email."""
    match = re.search(re.escape(SITE) + r"(/meedoen/bevestigen/[A-Za-z0-9_-]+)", text_part(message))
    assert match, text_part(message)
    return match.group(1)


def statuses(app) -> list[str]:
    """The status of every registration, oldest first."""
    with app.app_context():
        return list(db.session.scalars(select(Registration.status).order_by(Registration.id)))


def register_and_confirm(client, app, smtp, **changes) -> None:
    """Register, open the mailed link and press its button."""
    assert post_registration(client, **changes).status_code == 303
    link = confirmation_link(deliver(app, smtp)[-1])
    page = client.get(link)
    response = client.post(link, data={"csrf_token": hidden_fields(page.text)["csrf_token"]})
    assert response.status_code == 303, response.text


def session_token(client) -> dict:
    """This browser session's CSRF token, as a form field."""
    return {"csrf_token": hidden_fields(client.get("/meedoen/").text)["csrf_token"]}


def count(client) -> int:
    """The count the API gives."""
    return client.get("/api/adoptions/count").json["count"]


# -- the whole way, from the form to the count ---------------------------------------------------

def test_register_confirm_approve_counts_and_lists(app, client, runner, smtp, tmp_path):
    response = post_registration(client)
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    assert "Controleer uw e-mail" in page.text
    assert statuses(app) == ["unconfirmed"]

    [mail] = deliver(app, smtp)
    assert mail["To"] == "anna@waterbedrijf-voorbeeld.nl"
    assert "Bevestig" in mail["Subject"]
    assert "Waterbedrijf Voorbeeld" in text_part(mail)
    link = confirmation_link(mail)
    assert link in mail.get_body(("html",)).get_content()

    # Opening the link, as a mail scanner does, only shows the button.
    page = client.get(link)
    assert page.status_code == 200
    assert "Aanmelding bevestigen" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert statuses(app) == ["unconfirmed"]
    assert count(client) == 25

    response = client.post(link, data={"csrf_token": hidden_fields(page.text)["csrf_token"]})
    assert response.status_code == 303
    assert "Aanmelding bevestigd" in client.get(response.headers["Location"]).text
    assert statuses(app) == ["pending"]
    assert count(client) == 25  # confirmed is not approved

    result = runner.invoke(args=["adoptions", "approve", "12345678"])
    assert result.exit_code == 0, result.output
    assert "Goedgekeurd: Waterbedrijf Voorbeeld" in result.output
    assert count(client) == 26

    approval = deliver(app, smtp)[-1]
    assert approval["To"] == "anna@waterbedrijf-voorbeeld.nl"
    text = text_part(approval)
    snippet = (f'<a href="{SITE}/deelnemers/#waterbedrijf-voorbeeld"><img '
               f'src="{SITE}/deelnemers/waterbedrijf-voorbeeld/badge.svg" alt="Waterbedrijf '
               'Voorbeeld heeft het sociaal incassobeleid van de Schuldeiserscoalitie ingevoerd">'
               '</a>')
    assert snippet in text
    # In the HTML part the snippet is shown as code to copy, not as a link.
    assert "&lt;a href=" in approval.get_body(("html",)).get_content()

    [adopter] = client.get("/api/adoptions").json["adopters"]
    assert adopter == {"name": "Waterbedrijf Voorbeeld", "sector": "Water",
                       "website": "https://www.waterbedrijf-voorbeeld.nl",
                       "slug": "waterbedrijf-voorbeeld", "date": utcnow().date().isoformat()}
    assert client.get("/deelnemers/waterbedrijf-voorbeeld/badge.svg").status_code == 200

    # With JavaScript off the static pages show what the last build read from the database.
    site = build_site(tmp_path / "site", app.config["SQLALCHEMY_DATABASE_URI"])
    home = (site / "index.html").read_text(encoding="utf-8")
    assert re.search(r"data-adoptions-count[^>]*>\s*26\s*<", home)
    adopters = (site / "deelnemers" / "index.html").read_text(encoding="utf-8")
    assert 'id="waterbedrijf-voorbeeld"' in adopters
    assert "Waterbedrijf Voorbeeld" in adopters


def test_adopter_without_consent_counts_but_is_not_listed(app, client, runner, smtp, tmp_path):
    register_and_confirm(client, app, smtp, list_publicly=None)
    assert runner.invoke(args=["adoptions", "approve", "12345678"]).exit_code == 0
    assert count(client) == 26
    assert client.get("/api/adoptions").json == {"adopters": []}
    assert client.get("/deelnemers/waterbedrijf-voorbeeld/badge.svg").status_code == 404
    assert "badge.svg" not in text_part(deliver(app, smtp)[-1])

    site = build_site(tmp_path / "site", app.config["SQLALCHEMY_DATABASE_URI"])
    assert re.search(r"data-adoptions-count[^>]*>\s*26\s*<",
                     (site / "index.html").read_text(encoding="utf-8"))
    assert "Waterbedrijf" not in (site / "deelnemers" / "index.html").read_text(encoding="utf-8")


# -- the confirmation link -----------------------------------------------------------------------

def test_used_link_confirms_nothing_more_and_says_so(app, client, smtp):
    register_and_confirm(client, app, smtp)
    link = confirmation_link(smtp.messages[-1])
    for response in (client.get(link), client.post(link, data=session_token(client))):
        assert response.status_code == 404
        assert "Deze link werkt niet" in response.text
        assert "Er is niets bevestigd" in response.text
    assert statuses(app) == ["pending"]


@pytest.mark.parametrize("token", ["x" * 43, "a", "x" * 300, "%00"])
def test_guessed_link_confirms_nothing(app, client, smtp, token):
    post_registration(client)
    deliver(app, smtp)
    for response in (client.get(f"/meedoen/bevestigen/{token}"),
                     client.post(f"/meedoen/bevestigen/{token}", data=session_token(client))):
        assert response.status_code == 404
        assert "Deze link werkt niet" in response.text
        assert "Er is niets bevestigd" in response.text
    assert statuses(app) == ["unconfirmed"]


def test_expired_link_confirms_nothing_and_says_so(app, client, smtp):
    post_registration(client)
    link = confirmation_link(deliver(app, smtp)[-1])
    page = client.get(link)
    with app.app_context():
        registration = db.session.scalar(select(Registration))
        registration.token_expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    response = client.post(link, data={"csrf_token": hidden_fields(page.text)["csrf_token"]})
    assert response.status_code == 410
    shown = " ".join(response.text.split())  # as a browser shows it, lines joined
    assert "Deze link is verlopen" in shown and "niet bevestigd" in shown
    assert client.get(link).status_code == 410
    assert statuses(app) == ["unconfirmed"]


def test_unconfirmed_registrations_are_erased_when_their_link_expires(app, client, runner):
    post_registration(client)
    post_registration(client, kvk="87654321")
    with app.app_context():
        registration = db.session.get(Registration, 1)
        registration.token_expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    result = runner.invoke(args=["adoptions", "purge"])
    assert result.exit_code == 0
    assert "1 aanmelding(en) gewist." in result.output
    with app.app_context():
        assert db.session.scalars(select(Registration.kvk)).all() == ["87654321"]


@pytest.mark.parametrize(("days_ago", "kept"), [(29, True), (31, False)])
def test_rejected_registrations_are_erased_after_30_days(app, runner, days_ago, kept):
    with app.app_context():
        db.session.add(Registration(
            company_name="Afgewezen BV", kvk="11223344", sector="overig", contact_name="A",
            contact_email="a@voorbeeld.nl", status="rejected", reject_reason="Geen beleid",
            decided_at=utcnow() - timedelta(days=days_ago)))
        db.session.commit()
    assert runner.invoke(args=["adoptions", "purge"]).exit_code == 0
    with app.app_context():
        assert (db.session.scalar(select(Registration)) is not None) == kept


def test_link_expires_after_48_hours(app, client, smtp):
    post_registration(client)
    assert "48 uur" in text_part(deliver(app, smtp)[-1])
    with app.app_context():
        registration = db.session.scalar(select(Registration))
        lifetime = registration.token_expires_at - registration.created_at
    assert timedelta(hours=47, minutes=59) < lifetime <= timedelta(hours=48)


def test_confirm_button_needs_the_csrf_token(app, client, smtp):
    post_registration(client)
    link = confirmation_link(deliver(app, smtp)[-1])
    response = client.post(link)
    assert response.status_code == 400
    assert "Er is niets bevestigd" in response.text
    assert statuses(app) == ["unconfirmed"]


def test_token_is_stored_only_as_a_hash(app, client, smtp):
    post_registration(client)
    token = confirmation_link(deliver(app, smtp)[-1]).rsplit("/", 1)[1]
    assert len(token) >= 22  # at least 128 random bits in URL-safe base64
    with app.app_context():
        registration = db.session.scalar(select(Registration))
        assert token not in (registration.token_hash or "")
    database = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    assert token.encode() not in Path(database).read_bytes()


# -- duplicates ----------------------------------------------------------------------------------

def test_the_answer_does_not_tell_whether_a_company_is_registered(app, client, runner, smtp):
    first = post_registration(client)
    register_and_confirm(client, app, smtp)
    assert runner.invoke(args=["adoptions", "approve", "12345678", "--id", "2"]).exit_code == 0
    again = post_registration(client, contact_email="iemand@elders.nl")
    assert (again.status_code, again.headers["Location"]) == (first.status_code,
                                                             first.headers["Location"])
    # The stranger's mail is the ordinary confirmation mail, too.
    mail = deliver(app, smtp)[-1]
    assert mail["To"] == "iemand@elders.nl"
    assert "/meedoen/bevestigen/" in text_part(mail)


def test_a_company_never_counts_twice(app, client, runner, smtp):
    register_and_confirm(client, app, smtp)
    register_and_confirm(client, app, smtp, contact_email="b@waterbedrijf-voorbeeld.nl")
    result = runner.invoke(args=["adoptions", "approve", "12345678"])
    assert result.exit_code != 0
    assert "--id" in result.output
    assert runner.invoke(args=["adoptions", "approve", "12345678", "--id", "1"]).exit_code == 0
    result = runner.invoke(args=["adoptions", "approve", "12345678", "--id", "2"])
    assert result.exit_code == 1
    assert "al goedgekeurd" in result.output
    assert "telt maar één keer mee" in result.output
    assert count(client) == 26
    assert statuses(app) == ["approved", "pending"]


def test_the_database_refuses_a_second_approval_of_one_kvk(app):
    from sqlalchemy.exc import IntegrityError

    with app.app_context():
        for name in ("Een", "Twee"):
            db.session.add(Registration(company_name=name, kvk="12345678", sector="water",
                                        contact_name="", contact_email="", status="approved"))
        with pytest.raises(IntegrityError):
            db.session.commit()


# -- refused input: clear Dutch errors, no 500, no mail ------------------------------------------

def assert_refused(app, smtp, response, field: str, message: str) -> None:
    """The form is shown again with the message at the field; nothing is stored or mailed."""
    assert response.status_code == 400, response.status_code
    assert "Fout: controleer het formulier" in response.text
    assert 'aria-invalid="true"' in response.text
    assert f'href="#{field}"' in response.text
    error = re.search(rf'id="{field}-error-1">(.*?)</p>', response.text, re.S)
    assert error and message in unescape(error.group(1)), response.text
    assert statuses(app) == []
    deliver(app, smtp)
    assert smtp.messages == []


@pytest.mark.parametrize("kvk", ["1234567", "12a45678", "123456789", "", "１２３４５６７８"])
def test_bad_kvk_numbers_are_refused(app, client, smtp, kvk):
    response = post_registration(client, kvk=kvk)
    message = "KvK-nummer" if kvk else "Vul het KvK-nummer"
    assert_refused(app, smtp, response, "kvk", message)


def test_kvk_with_spaces_is_accepted(app, client):
    assert post_registration(client, kvk=" 1234 5678 ").status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Registration.kvk)) == "12345678"


@pytest.mark.parametrize("address", [
    "geen-adres",
    "anna@",
    "@voorbeeld.nl",
    "anna@voorbeeld",
    "Anna <anna@voorbeeld.nl>",
    "anna@voorbeeld.nl, piet@voorbeeld.nl",
    "anna@voorbeeld.nl;piet@voorbeeld.nl",
    "anna@voorbeeld.nl\r\nBcc: piet@voorbeeld.nl",
    "anna@voorbeeld.nl\nBcc: piet@voorbeeld.nl",
    "anna@voorbeeld.nl\x00",
    "anna voorbeeld@voorbeeld.nl",
    '"anna"@voorbeeld.nl',
])
def test_bad_email_addresses_are_refused(app, client, smtp, address):
    response = post_registration(client, contact_email=address)
    assert_refused(app, smtp, response, "contact_email", "e")


@pytest.mark.parametrize("website", [
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "ftp://voorbeeld.nl",
    "https://",
    "https://gebruiker:geheim@voorbeeld.nl",
    "vbscript:msgbox",
    'https://voorbeeld.nl/"><script>alert(1)</script>',
    "https://voorbeeld.nl/' onmouseover='alert(1)",
    'https://voorbeeld.nl/" onmouseover="alert(1)',
    "https://voor beeld.nl",
    "https://voorbeeld.nl:99999/",
    "https://-.nl",
    "http://[::1]/",
    "https://voorbeeld",
])
def test_websites_other_than_http_are_refused(app, client, smtp, website):
    response = post_registration(client, website=website)
    assert_refused(app, smtp, response, "website", "webadres")


@pytest.mark.parametrize("website, stored", [
    ("", None),
    ("www.voorbeeld.nl", "https://www.voorbeeld.nl"),
    ("http://voorbeeld.nl/over-ons", "http://voorbeeld.nl/over-ons"),
])
def test_websites_that_are_accepted(app, client, website, stored):
    assert post_registration(client, website=website).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Registration.website)) == stored


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize("payload", ["\r\nBcc: x@y.nl", "\n", "\r", "\x00", "\u202e",
                                     "<script>alert(1)</script>"])
def test_line_breaks_and_script_are_refused_in_every_field(app, client, smtp, field, payload):
    value = VALID[field] + payload if field != "website" else "https://x.nl/" + payload
    response = post_registration(client, **{field: value})
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in response.text
    if field == "sector":
        message = "Kies een sector uit de lijst."
    elif payload.startswith("<"):
        message = {"contact_email": "zonder naam", "website": "webadres"}.get(field, "HTML of code")
    else:
        message = "regeleinde"
    assert_refused(app, smtp, response, field, message)


@pytest.mark.parametrize("field, message", [
    ("company_name", "Vul de naam van uw onderneming in."),
    ("sector", "Kies de sector van uw onderneming."),
    ("contact_name", "Vul de naam van de contactpersoon in."),
    ("contact_email", "Vul het e-mailadres van de contactpersoon in."),
    ("adopted_policy", "Vink aan dat uw onderneming het sociaal incassobeleid heeft ingevoerd."),
])
def test_required_fields(app, client, smtp, field, message):
    response = post_registration(client, **{field: None})
    assert_refused(app, smtp, response, field, message)


@pytest.mark.parametrize("field, value, message", [
    ("company_name", "W" * 201, "De naam mag niet langer zijn dan 200 tekens."),
    ("contact_name", "A" * 101, "De naam mag niet langer zijn dan 100 tekens."),
    ("contact_email", "a" * 64 + "@" + ("b" * 60 + ".") * 4 + "nl", "Het e-mailadres is te lang."),
    ("website", "https://www.voorbeeld.nl/" + "p" * 200,
     "Het webadres mag niet langer zijn dan 200 tekens."),
])
def test_too_long_values_are_refused_with_the_maximum(app, client, smtp, field, value, message):
    response = post_registration(client, **{field: value})
    assert_refused(app, smtp, response, field, message)


def test_unknown_sector_is_refused(app, client, smtp):
    response = post_registration(client, sector="bakkerij")
    assert_refused(app, smtp, response, "sector", "Kies een sector uit de lijst.")


def test_form_without_csrf_token_is_shown_again(app, client, smtp):
    response = client.post("/meedoen/", data=VALID)
    assert response.status_code == 400
    assert "Het formulier was verlopen" in response.text
    assert 'value="Waterbedrijf Voorbeeld"' in response.text
    assert statuses(app) == []
    # Sent again with the fresh token and time stamp of that page, it goes through.
    again = client.post("/meedoen/", data={**VALID, **hidden_fields(response.text)})
    assert again.status_code == 303
    assert statuses(app) == ["unconfirmed"]


@pytest.mark.parametrize("name, slug", [
    ("Woonstichting 't Gooi", "woonstichting-t-gooi"),
    ("Énergie & Co. B.V.", "energie-co-b-v"),
    ("!!!", "onderneming"),
    ("x" * 200, "x" * 180),
])
def test_slugs(name, slug):
    assert slugify(name) == slug


def test_a_bot_in_the_trap_gets_the_usual_answer_and_no_mail(app, client, smtp):
    response = post_registration(client, fax="0201234567")
    assert response.status_code == 303
    assert statuses(app) == []
    assert deliver(app, smtp) == []


def test_a_form_sent_back_too_fast_is_shown_again(app, client, smtp):
    app.config["JOIN_MIN_FILL_SECONDS"] = 60
    response = post_registration(client)
    assert response.status_code == 400
    assert "Dat ging erg snel" in response.text
    assert statuses(app) == []


def test_too_many_registrations_from_one_address_must_wait(app, client, smtp):
    for number in range(5):
        assert post_registration(client, contact_email=f"p{number}@voorbeeld.nl").status_code == 303
    response = post_registration(client, contact_email="p6@voorbeeld.nl")
    assert response.status_code == 429
    assert "Probeer het later opnieuw" in response.text
    assert "Retry-After" in response.headers
    assert len(statuses(app)) == 5


def test_one_contact_address_gets_a_few_mails_at_most(app, client, smtp):
    app.config["JOIN_LIMITS_PER_IP"] = [[100, 3600]]
    for _ in range(4):
        assert post_registration(client).status_code == 303
    assert len(deliver(app, smtp)) == 3


def test_the_form_page_has_the_site_around_it(client):
    page = client.get("/meedoen/")
    assert '<form class="mailer-form" method="post" action="/meedoen/" novalidate>' in page.text
    assert "md-header" in page.text  # the theme's header, from the built page
    assert page.text.count("<h1") == 1
    for label in ("Naam van de onderneming", "KvK-nummer", "Sector", "Website (niet verplicht)",
                  "Naam van de contactpersoon", "E-mailadres van de contactpersoon",
                  "sociaal incassobeleid ingevoerd", "Warm doorverwijzen", "openbare lijst"):
        assert label in page.text


# -- review from the command line ----------------------------------------------------------------

def test_reject_mails_the_reason(app, client, runner, smtp):
    register_and_confirm(client, app, smtp)
    result = runner.invoke(args=["adoptions", "reject", "12345678", "--reason",
                                 "Wij vonden geen sociaal incassobeleid op uw website."])
    assert result.exit_code == 0, result.output
    assert "Afgewezen" in result.output
    mail = deliver(app, smtp)[-1]
    assert mail["To"] == "anna@waterbedrijf-voorbeeld.nl"
    assert "Wij vonden geen sociaal incassobeleid op uw website." in text_part(mail)
    assert statuses(app) == ["rejected"]
    assert count(client) == 25


def test_a_rejection_is_logged_but_rebuilds_nothing(app, client, runner, smtp):
    """A pending registration never counted: rejecting it changes nothing on the site."""
    from mailer.models import AuditEntry
    from mailer.staff.rebuild import CHANGED

    register_and_confirm(client, app, smtp)
    result = runner.invoke(args=["adoptions", "reject", "12345678", "--reason", "Geen beleid."])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert [(e.actor, e.action, e.record) for e in db.session.scalars(select(AuditEntry))] == [
            ("opdrachtregel", "aanmelding afgewezen", "12345678")]
        assert db.session.get(Setting, CHANGED) is None


def test_reject_needs_a_reason(app, client, runner, smtp):
    register_and_confirm(client, app, smtp)
    result = runner.invoke(args=["adoptions", "reject", "12345678", "--reason", "  "])
    assert result.exit_code == 1
    assert "reden" in result.output
    assert statuses(app) == ["pending"]


@pytest.mark.parametrize("reason, message", [
    ("Te lang. " * 250, "niet langer zijn dan 2000 tekens"),
    ("Nee\x00", "onzichtbare tekens"),
    ("Nee \u202egnigew", "onzichtbare tekens"),
])
def test_reject_refuses_a_reason_the_mail_cannot_carry(app, client, runner, smtp, reason, message):
    register_and_confirm(client, app, smtp)
    result = runner.invoke(args=["adoptions", "reject", "12345678", "--reason", reason])
    assert result.exit_code == 1
    assert message in result.output
    assert statuses(app) == ["pending"]


def test_reject_keeps_the_line_breaks_of_a_reason(app, client, runner, smtp):
    register_and_confirm(client, app, smtp)
    result = runner.invoke(args=["adoptions", "reject", "12345678", "--reason",
                                 "Eerste punt.\r\n\tTweede punt."])
    assert result.exit_code == 0, result.output
    assert "Eerste punt.\r\n\tTweede punt." in text_part(deliver(app, smtp)[-1])


@pytest.mark.parametrize("args, message", [
    (["approve", "12345678"], "geen aanmelding"),
    (["approve", "1234"], "precies 8 cijfers"),
    (["reject", "12345678", "--reason", "x"], "geen aanmelding"),
    (["unlist", "12345678"], "geen goedgekeurde onderneming"),
])
def test_review_commands_say_what_is_wrong(runner, args, message):
    result = runner.invoke(args=["adoptions", *args])
    assert result.exit_code == 1
    assert message in result.output.lower()
    assert result.output.startswith("Fout: ")


def test_an_unconfirmed_registration_cannot_be_approved(app, client, runner, smtp):
    post_registration(client)
    result = runner.invoke(args=["adoptions", "approve", "12345678"])
    assert result.exit_code == 1
    assert "nog niet bevestigd" in result.output
    assert count(client) == 25


def test_list_shows_the_registrations(app, client, runner, smtp):
    register_and_confirm(client, app, smtp)
    post_registration(client, kvk="87654321", company_name="Energie Zuid")
    assert runner.invoke(args=["adoptions", "approve", "12345678"]).exit_code == 0
    result = runner.invoke(args=["adoptions", "list"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["id", "KvK", "onderneming", "sector", "status", "lijst",
                                "aangemeld", "bevestigd", "besloten"]
    assert "12345678" in lines[1] and "goedgekeurd" in lines[1]
    assert "87654321" in lines[2] and "onbevestigd" in lines[2]
    assert "1 onbevestigd, 1 goedgekeurd" in result.output
    result = runner.invoke(args=["adoptions", "list", "--status", "unconfirmed"])
    assert "12345678" not in result.output and "87654321" in result.output
    assert "Geen aanmeldingen." in runner.invoke(
        args=["adoptions", "list", "--status", "pending"]).output


def test_unlist_keeps_the_count(app, client, runner, smtp):
    register_and_confirm(client, app, smtp)
    runner.invoke(args=["adoptions", "approve", "12345678"])
    assert len(client.get("/api/adoptions").json["adopters"]) == 1
    result = runner.invoke(args=["adoptions", "unlist", "12345678"])
    assert result.exit_code == 0, result.output
    assert count(client) == 26
    assert client.get("/api/adoptions").json["adopters"] == []
    assert client.get("/deelnemers/waterbedrijf-voorbeeld/badge.svg").status_code == 404


CSV = """company_name,kvk,sector,website,list_publicly
Energie Noord,11111111,energie,https://energie-noord.nl,ja
Woonstichting 't Dorp,22222222,Wonen en woningcorporaties,,nee
Jansen & Zn Incasso,33333333,incasso,www.jansen-incasso.nl,ja
Dubbel,11111111,energie,,ja
Fout,1234,energie,,ja
Ook fout,44444444,bakkerij,,ja
Script,55555555,water,javascript:alert(1),ja
"""


def test_import_records_adopters_and_reports_each_row(app, client, runner, tmp_path):
    path = tmp_path / "deelnemers.csv"
    path.write_text(CSV, encoding="utf-8")
    result = runner.invoke(args=["adoptions", "import", str(path)])
    assert result.exit_code == 1  # some rows had errors
    lines = result.output.splitlines()
    assert lines[0] == "regel 2: toegevoegd: Energie Noord (KvK 11111111)"
    assert lines[3] == "regel 5: overgeslagen: KvK 11111111 telt al mee"
    assert "regel 6: fout, overgeslagen: Een KvK-nummer heeft precies 8 cijfers" in lines[4]
    assert "regel 7: fout, overgeslagen: Kies een sector" in lines[5]
    assert "regel 8: fout, overgeslagen: Het webadres moet beginnen met http" in lines[6]
    assert "3 toegevoegd, 1 al bekend, 3 met fouten. Teller nu: 28." in result.output
    assert "Fout: Niet alle regels" in result.output
    assert count(client) == 28
    names = [a["name"] for a in client.get("/api/adoptions").json["adopters"]]
    assert sorted(names) == ["Energie Noord", "Jansen & Zn Incasso"]

    # Importing the same file again adds nothing: a company never counts twice.
    result = runner.invoke(args=["adoptions", "import", str(path)])
    assert "0 toegevoegd, 4 al bekend" in result.output
    assert count(client) == 28


def test_import_of_a_file_without_the_columns_is_refused(runner, tmp_path):
    path = tmp_path / "deelnemers.csv"
    path.write_text("naam;kvk\nEnergie Noord;11111111\n", encoding="utf-8")
    result = runner.invoke(args=["adoptions", "import", str(path)])
    assert result.exit_code == 1
    assert "Kolommen ontbreken" in result.output


def test_import_of_a_clean_file_succeeds(client, runner, tmp_path):
    path = tmp_path / "deelnemers.csv"
    path.write_text("\ufeffcompany_name,kvk,sector\nEnergie Noord,11111111,energie\n",
                    encoding="utf-8")
    result = runner.invoke(args=["adoptions", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert count(client) == 26
    assert client.get("/api/adoptions").json["adopters"] == []  # not listed unless it says so


# -- the badge -----------------------------------------------------------------------------------

def test_badge_is_an_accessible_cacheable_svg_with_the_name_escaped(client, runner, tmp_path):
    path = tmp_path / "deelnemers.csv"
    path.write_text(CSV, encoding="utf-8")
    runner.invoke(args=["adoptions", "import", str(path)])
    response = client.get("/deelnemers/jansen-zn-incasso/badge.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert "public" in response.headers["Cache-Control"]
    svg = response.text
    assert 'role="img"' in svg and 'aria-labelledby="sc-badge-title"' in svg
    assert ('<title id="sc-badge-title">Jansen &amp; Zn Incasso heeft het sociaal incassobeleid '
            "van de Schuldeiserscoalitie ingevoerd</title>") in svg
    assert "Jansen & Zn" not in svg
    from xml.etree import ElementTree

    ElementTree.fromstring(svg)  # well-formed
    again = client.get("/deelnemers/jansen-zn-incasso/badge.svg",
                       headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("slug", ["bestaat-niet", "woonstichting-t-dorp", "%00", "Energie",
                                  "a" * 300])
def test_no_badge_for_unknown_or_unlisted_adopters(client, runner, tmp_path, slug):
    path = tmp_path / "deelnemers.csv"
    path.write_text(CSV, encoding="utf-8")
    runner.invoke(args=["adoptions", "import", str(path)])
    assert client.get(f"/deelnemers/{slug}/badge.svg").status_code == 404


def test_mails_go_through_the_outbox(app, client):
    post_registration(client)
    with app.app_context():
        row = db.session.scalar(select(OutboxMail))
        assert (row.kind, row.status) == ("adoption_confirmation", "queued")


@pytest.mark.parametrize("address", ["jürgen@example.nl", "ö@example.nl"])
def test_a_contact_address_that_cannot_be_sent_is_refused(app, client, smtp, address):
    response = post_registration(client, contact_email=address)
    assert_refused(app, smtp, response, "contact_email", "zonder accenten")


def test_a_contact_at_an_international_domain_gets_mail_at_its_punycode_name(app, client, smtp):
    assert post_registration(client, contact_email="info@bücher.example").status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Registration.contact_email)) == "info@xn--bcher-kva.example"
    deliver(app, smtp)
    envelope, message = smtp.received[-1]
    assert envelope.rcpt_tos == ["info@xn--bcher-kva.example"]
    assert message["To"] == "info@xn--bcher-kva.example"


@pytest.mark.parametrize("website, stored", [
    ("HTTPS://WWW.Voorbeeld.NL/Over-Ons", "https://www.voorbeeld.nl/Over-Ons"),
    ("https://bücher.example/pad", "https://xn--bcher-kva.example/pad"),
    ("https://voorbeeld.nl:8443/a?b=c", "https://voorbeeld.nl:8443/a?b=c"),
])
def test_websites_are_stored_normalised(app, client, website, stored):
    assert post_registration(client, website=website).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Registration.website)) == stored


@pytest.mark.parametrize("field", ["company_name", "contact_name"])
@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_names_that_a_spreadsheet_would_run_are_refused(app, client, smtp, field, start):
    response = post_registration(client, **{field: f"{start}HYPERLINK(\"http://x.nl\")"})
    assert_refused(app, smtp, response, field, "Begin niet met =, +, - of @")


def test_the_csv_import_refuses_formulas_row_by_row(app, runner, tmp_path):
    path = tmp_path / "import.csv"
    path.write_text("company_name,kvk,sector,contact_name\n"
                    "=cmd|' /C calc'!A0,11111111,energie,A\n"
                    "Goed Bedrijf,22222222,water,@SUM(A1)\n"
                    "Ook Goed,33333333,water,Anna\n", encoding="utf-8")
    result = runner.invoke(args=["adoptions", "import", str(path)])
    assert result.exit_code == 1
    assert result.output.count("Begin niet met =, +, - of @") == 2
    with app.app_context():
        assert list(db.session.scalars(select(Registration.company_name))) == ["Ook Goed"]


def test_the_csv_import_refuses_what_the_form_refuses_and_echoes_no_whole_cell(app, runner,
                                                                            tmp_path):
    """A contact name over 100 characters is refused, not cut short; a long bad cell is not
    printed back whole."""
    path = tmp_path / "import.csv"
    path.write_text("company_name,kvk,sector,contact_name,list_publicly\n"
                    f"Lang Bedrijf,11111111,energie,{'A' * 101},ja\n"
                    f"Raar Bedrijf,22222222,water,Anna,{'x' * 5000}\n"
                    "Ook Goed,33333333,water,Anna,nee\n", encoding="utf-8")
    result = runner.invoke(args=["adoptions", "import", str(path)])
    assert result.exit_code == 1
    assert "langer dan 100 tekens" in result.output
    assert "x" * 41 not in result.output and "x" * 40 in result.output
    with app.app_context():
        assert list(db.session.scalars(select(Registration.company_name))) == ["Ook Goed"]


def test_a_name_with_terminal_codes_in_the_database_prints_harmlessly(app, runner):
    """A value stored by other means (an old import, a database tool) reaches the terminal."""
    with app.app_context():
        db.session.add(Registration(
            company_name="Rood\x1b[31m\x1b]0;titel\x07\nBV", kvk="44444444", sector="overig",
            contact_name="A", contact_email="a@example.nl", status="pending"))
        db.session.commit()
    for args in (["adoptions", "list"], ["adoptions", "approve", "44444444"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.output and "\x07" not in result.output
        assert "Rood?[31m" in result.output


def test_command_line_changes_are_logged_and_mark_the_site_for_a_rebuild(app, runner, tmp_path):
    from mailer.models import AuditEntry
    from mailer.staff.rebuild import CHANGED

    path = tmp_path / "import.csv"
    path.write_text("company_name,kvk,sector,contact_email\nGeheim BV,55555555,water,"
                    "geheim@example.nl\n", encoding="utf-8")
    assert runner.invoke(args=["adoptions", "import", str(path)]).exit_code == 0
    assert runner.invoke(args=["adoptions", "unlist", "55555555"]).exit_code == 0
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [(e.actor, e.action, e.record) for e in entries] == [
            ("opdrachtregel", "deelnemers geïmporteerd", "CSV-bestand"),
            ("opdrachtregel", "van de openbare lijst gehaald", "55555555")]
        assert "geheim" not in " ".join(str(e.detail) for e in entries)
        assert db.session.get(Setting, CHANGED) is not None


def test_a_csv_file_the_csv_module_cannot_read_is_refused_plainly(app, runner, tmp_path):
    path = tmp_path / "import.csv"
    path.write_text("company_name,kvk,sector\n" + "x" * 140_000 + ",11111111,water\n",
                    encoding="utf-8")
    result = runner.invoke(args=["adoptions", "import", str(path)])
    assert result.exit_code == 1
    assert "Dit CSV-bestand is niet te lezen" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Registration)) == 0


def test_refusal_pages_render_without_holding_the_write_lock(app, client, smtp, monkeypatch):
    """A bot's or guesser's refused post frees SQLite's one write lock before its page renders."""
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    free = []

    def probing(render):
        def probe(*args, **kwargs):
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                free.append(True)
            except sqlite3.OperationalError:
                free.append(False)
            finally:
                other.close()
            return render(*args, **kwargs)
        return probe

    monkeypatch.setattr(routes, "_token_problem", probing(routes._token_problem))
    monkeypatch.setattr(routes, "limited", probing(routes.limited))
    post_registration(client)
    client.post("/meedoen/bevestigen/" + "x" * 43, data=session_token(client))
    for number in range(4):  # five in all from this address: the sixth must wait
        assert post_registration(client, contact_email=f"p{number}@voorbeeld.nl").status_code == 303
    assert post_registration(client, contact_email="p6@voorbeeld.nl").status_code == 429
    assert free == [True, True]


def test_import_help_names_every_sector(runner):
    result = runner.invoke(args=["adoptions", "import", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert all(code in text for code in SECTORS), text
