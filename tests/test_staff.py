"""The staff area: accounts from the command line, sign-in with two-factor, limits, and every
page's actions with their audit entries."""

import re
from datetime import datetime, time, timedelta
from html import unescape

import pyotp
import pytest
from conftest import csrf_token
from sqlalchemy import delete, func, select

from mailer.extensions import db
from mailer.models import (
    AuditEntry,
    OptOut,
    OutboxMail,
    Registration,
    Setting,
    StaffUser,
    WeeklyTips,
    utcnow,
)
from mailer.security import address_hash

PASSWORD = "een lang wachtwoord 1"
EMAIL = "medewerker@schuldeiserscoalitie.nl"


def add_staff(app, email=EMAIL, admin=False, password=PASSWORD):
    """Make an account the way staff do: `mailer staff add`, password typed twice."""
    args = ["staff", "add", email] + (["--admin"] if admin else [])
    result = app.test_cli_runner().invoke(args=args, input=f"{password}\n{password}\n")
    assert result.exit_code == 0, result.output
    return email


def post(client, url, data=None, page=None, **kwargs):
    """POST a form with the CSRF token of `page` (or of `url` itself)."""
    html = client.get(page or url, **kwargs).get_data(as_text=True)
    return client.post(url, data={"csrf_token": csrf_token(html), **(data or {})}, **kwargs)


def totp_secret(html: str) -> str:
    """The key the setup page shows beside its QR code."""
    match = re.search(r'<code id="authr-key">([^<]+)</code>', html)
    assert match, "geen sleutel op de instelpagina"
    return re.sub(r"[^A-Z2-7]", "", match.group(1).upper())


def sign_in(client, email=EMAIL, password=PASSWORD, secret=None):
    """Sign in with password and authenticator code, setting the app up the first time.

    Returns the authenticator secret, to sign in again later.
    """
    response = post(client, "/beheer/login", {"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    if secret is None:
        assert "/beheer/tf-setup" in response.location
        setup = post(client, "/beheer/tf-setup", {"setup": "authenticator"})
        html = setup.get_data(as_text=True)
        secret = totp_secret(html)
        code = pyotp.TOTP(secret).now()
        response = client.post("/beheer/tf-validate",
                               data={"csrf_token": csrf_token(html), "code": code})
        assert response.status_code == 302, response.get_data(as_text=True)
        post(client, "/beheer/mf-recovery-codes", {})  # asked for at the first sign-in
        return secret
    else:
        assert "/beheer/tf-validate" in response.location
        response = post(client, "/beheer/tf-validate", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302, response.get_data(as_text=True)
    return secret


@pytest.fixture
def staff_client(app):
    """A test client signed in as a staff member with two-factor set up."""
    add_staff(app)
    client = app.test_client()
    sign_in(client)
    return client


def audit_actions(app) -> list[str]:
    """The actions in the audit log, oldest first."""
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def add_registration(app, status="pending", kvk="12345678", name="Waterbedrijf Oost",
                     listed=True, confirmed_at=None) -> int:
    """Store a registration as if it came in through /meedoen/ and was confirmed."""
    with app.app_context():
        registration = Registration(
            company_name=name, kvk=kvk, sector="water", website="https://waterbedrijf.test",
            contact_name="Piet Jansen", contact_email=f"piet{kvk}@waterbedrijf.test",
            adopted_policy=True, warm_referral=True, list_publicly=listed, status=status,
            confirmed_at=confirmed_at or utcnow(),
            decided_at=utcnow() if status == "approved" else None,
            slug=name.lower().replace(" ", "-") if status == "approved" else None)
        db.session.add(registration)
        db.session.commit()
        return registration.id


# -- accounts ------------------------------------------------------------------------------------

def test_staff_add_makes_an_account_with_a_hashed_password(app):
    """`mailer staff add` stores argon2, never the password; --admin adds the admin role."""
    add_staff(app, "beheerder@schuldeiserscoalitie.nl", admin=True)
    with app.app_context():
        user = db.session.scalar(select(StaffUser))
        assert user.password.startswith("$argon2")
        assert PASSWORD not in user.password
        assert sorted(role.name for role in user.roles) == ["admin", "staff"]
    assert audit_actions(app) == ["account gemaakt"]


def test_staff_add_refuses_a_short_password_and_a_second_account(app):
    """A password shorter than 12 characters is asked again; an address has one account."""
    runner = app.test_cli_runner()
    result = runner.invoke(args=["staff", "add", "a@schuldeiserscoalitie.nl"],
                           input=f"kort\nkort\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0
    assert "minstens 12 tekens" in result.output
    result = runner.invoke(args=["staff", "add", "A@schuldeiserscoalitie.nl"],
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code != 0
    assert "al een account" in result.output


@pytest.mark.parametrize("command", ["add", "reset"])
def test_a_password_with_accents_signs_in(app, command):
    """The password is stored as sign-in compares it (normalised), whichever command set it."""
    accented = "wachtwoord caf\u00e9 lang"
    if command == "add":
        add_staff(app, password=accented)
    else:
        add_staff(app)
        result = app.test_cli_runner().invoke(args=["staff", "reset", EMAIL],
                                              input=f"{accented}\n{accented}\n")
        assert result.exit_code == 0, result.output
    sign_in(app.test_client(), password=accented)


def test_no_self_registration(client):
    """There is no page to make an account."""
    assert client.get("/beheer/register").status_code == 404


# -- every staff route needs sign-in -------------------------------------------------------------

SIGN_IN_PAGES = {"security.login", "security.two_factor_token_validation",
                 "security.two_factor_rescue", "security.mf_recovery", "security.static",
                 "security.verify", "security.tf_select"}


def test_every_staff_route_refuses_without_sign_in(app, client):
    """Walk the whole url_map: every /beheer/ route but the sign-in steps refuses a stranger."""
    with app.app_context():
        registration = add_registration(app)
    token = csrf_token(client.get("/beheer/login").text)
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/beheer") or rule.endpoint in SIGN_IN_PAGES:
            continue
        url = re.sub(r"<(?:int:)?[a-z_]+>", str(registration), rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            # A valid CSRF token, so a POST is refused for want of a sign-in, not of a token.
            response = client.open(url, method=method, data={"csrf_token": token})
            checked += 1
            refused = response.status_code in (401, 403) or (
                response.status_code == 302 and "/beheer/login" in response.location)
            assert refused, f"{method} {url} gaf {response.status_code} zonder aanmelding"
    assert checked >= 15
    with app.app_context():
        assert db.session.get(Registration, registration).status == "pending"


def test_a_stranger_without_a_staff_role_is_refused(app):
    """An account whose roles were taken away sees nothing."""
    add_staff(app)
    client = app.test_client()
    sign_in(client)
    with app.app_context():
        user = db.session.scalar(select(StaffUser))
        user.roles = []
        db.session.commit()
    assert client.get("/beheer/").status_code == 403


# -- sign-in -------------------------------------------------------------------------------------

def test_sign_in_requires_the_authenticator_and_gives_recovery_codes(app):
    """Password alone does not let in; the first sign-in sets up the app and shows codes."""
    add_staff(app)
    client = app.test_client()
    response = post(client, "/beheer/login", {"email": EMAIL,
                                              "password": PASSWORD})
    assert "/beheer/tf-setup" in response.location
    assert client.get("/beheer/").status_code == 302  # not yet signed in
    setup = post(client, "/beheer/tf-setup", {"setup": "authenticator"})
    html = setup.get_data(as_text=True)
    assert 'src="data:image/' in html  # the QR code, no request leaves the site
    secret = totp_secret(html)
    wrong = client.post("/beheer/tf-validate", data={"csrf_token": csrf_token(html),
                                                     "code": "000000"})
    assert client.get("/beheer/").status_code == 302
    assert wrong.status_code == 200 and "Deze code klopt niet" in wrong.get_data(as_text=True)
    response = client.post("/beheer/tf-validate", data={"csrf_token": csrf_token(html),
                                                        "code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302
    assert "/beheer/mf-recovery-codes" in client.get("/beheer/").location  # codes come first
    codes = post(client, "/beheer/mf-recovery-codes", {}).get_data(as_text=True)
    assert len(re.findall(r"<li><code>[^<]+</code></li>", codes)) == 8
    overview = client.get("/beheer/")
    assert overview.status_code == 200
    assert "Overzicht" in overview.get_data(as_text=True)
    assert 'id="week-table"' in overview.get_data(as_text=True)  # the overview itself
    assert audit_actions(app)[-1] == "aangemeld"


def test_staff_page_titles_name_beheer_once(app, staff_client):
    """The <title> is the page's name, then the shell page's own title (which says Beheer)."""
    for url, name in (("/beheer/", "Overzicht"), ("/beheer/deelnemers/", "Deelnemers")):
        html = staff_client.get(url).get_data(as_text=True)
        title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
        assert title.startswith(f"{name} - ")
        assert title.count("Beheer") == 1, title


def test_every_sign_in_form_speaks_dutch(app):
    """WTForms' own messages on every form of the sign-in are the Dutch ones."""
    from mailer.staff import auth

    with app.test_request_context("/beheer/login", method="POST"):
        for form in (auth.StaffLoginForm, auth.StaffCodeForm, auth.StaffRecoveryForm,
                     auth.StaffSetupForm, auth.StaffRescueForm):
            assert form(meta={"csrf": False}).meta.locales == ["nl"], form


def test_a_recovery_code_signs_in_once(app):
    """Without the phone, a recovery code works instead of the code, one time only."""
    add_staff(app)
    client = app.test_client()
    sign_in(client)
    html = post(client, "/beheer/mf-recovery-codes", {}).get_data(as_text=True)
    code = re.findall(r"<li><code>([^<]+)</code></li>", html)[0]
    post(client, "/beheer/logout", page="/beheer/")
    for expected_in in (True, False):
        fresh = app.test_client()
        post(fresh, "/beheer/login", {"email": EMAIL, "password": PASSWORD})
        post(fresh, "/beheer/mf-recovery", {"code": code})
        assert (fresh.get("/beheer/").status_code == 200) is expected_in


def test_the_answer_never_tells_whether_an_address_has_an_account(app):
    """A wrong password and an unknown address get the same page."""
    add_staff(app)
    answers = []
    for email in (EMAIL, "niemand@schuldeiserscoalitie.nl"):
        client = app.test_client()
        response = post(client, "/beheer/login", {"email": email, "password": "fout fout fout"})
        text = response.get_data(as_text=True)
        answers.append((response.status_code, re.sub(r'value="[^"]*"', "", text)))
    assert answers[0] == answers[1]
    assert "Aanmelden mislukt" in answers[0][1]


def test_five_failures_lock_the_address_for_everyone(make_app):
    """After five failures the right password is refused too, also in another process."""
    app = make_app()
    add_staff(app)
    for _ in range(5):
        post(app.test_client(), "/beheer/login",
             {"email": EMAIL, "password": "fout fout fout"})
    other_process = make_app()
    response = post(other_process.test_client(), "/beheer/login",
                    {"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 200
    assert "Te veel mislukte pogingen" in response.get_data(as_text=True)
    # Another account from another address is not locked out by this one.
    add_staff(app, "ander@schuldeiserscoalitie.nl")
    response = post(other_process.test_client(), "/beheer/login",
                    {"email": "ander@schuldeiserscoalitie.nl", "password": PASSWORD},
                    environ_base={"REMOTE_ADDR": "192.0.2.9"})
    assert response.status_code == 302


def test_every_spelling_of_an_address_shares_one_limit(app):
    """Alternating the Unicode and the punycode form of a domain does not buy more guesses."""
    add_staff(app, "anna@bücher.nl")
    for n in range(5):
        typed = ("Anna@Bücher.nl", "anna@xn--bcher-kva.nl")[n % 2]
        post(app.test_client(), "/beheer/login", {"email": typed, "password": "fout fout fout"},
             environ_base={"REMOTE_ADDR": f"192.0.2.{n + 1}"})
    response = post(app.test_client(), "/beheer/login",
                    {"email": "anna@bücher.nl", "password": PASSWORD},
                    environ_base={"REMOTE_ADDR": "192.0.2.99"})
    assert "Te veel mislukte pogingen" in response.get_data(as_text=True)


def test_twenty_failures_from_one_address_lock_that_address(make_app):
    """Guessing many accounts from one client address stops at the per-address limit."""
    app = make_app(STAFF_LOGIN_LIMITS_PER_IP=[[3, 900]])
    add_staff(app)
    for n in range(3):
        post(app.test_client(), "/beheer/login",
             {"email": f"gok{n}@schuldeiserscoalitie.nl", "password": "fout fout fout"})
    response = post(app.test_client(), "/beheer/login", {"email": EMAIL, "password": PASSWORD})
    assert "Te veel mislukte pogingen" in response.get_data(as_text=True)


def test_sessions_end_after_idle_and_absolute_timeouts(app):
    """Idle for longer than the setting, or signed in longer than the maximum: signed out."""
    add_staff(app)
    client = app.test_client()
    secret = sign_in(client)
    with client.session_transaction() as session:
        session["staff_seen"] -= 31 * 60
    assert client.get("/beheer/").status_code == 302
    client = app.test_client()
    sign_in(client, secret=secret)
    assert client.get("/beheer/").status_code == 200
    with client.session_transaction() as session:
        session["staff_since"] -= 8 * 3600 + 1
    assert client.get("/beheer/").status_code == 302


def test_a_timeout_ends_only_its_own_session(app):
    """One browser idle too long is signed out; the account's other session stays, and the
    timeout is not logged as a sign-out."""
    add_staff(app)
    office, laptop = app.test_client(), app.test_client()
    secret = sign_in(office)
    sign_in(laptop, secret=secret)
    with laptop.session_transaction() as session:
        session["staff_seen"] -= 31 * 60
    assert laptop.get("/beheer/").status_code == 302
    assert office.get("/beheer/").status_code == 200
    assert "afgemeld" not in audit_actions(app)


def test_sign_out_is_a_post_and_ends_every_session_of_the_account(app):
    """GET does not sign out; POST does, and a copy of the old cookie no longer works."""
    add_staff(app)
    client = app.test_client()
    sign_in(client)
    assert client.get("/beheer/logout").status_code == 405
    with client.session_transaction() as session:
        stolen = dict(session)
    post(client, "/beheer/logout", page="/beheer/")
    assert client.get("/beheer/").status_code == 302
    thief = app.test_client()
    with thief.session_transaction() as session:
        session.update(stolen)
    assert thief.get("/beheer/").status_code == 302
    assert audit_actions(app)[-1] == "afgemeld"


def test_session_cookie_is_secure_httponly_and_lax_and_new_at_sign_in(app):
    """The cookie's flags, and a new session at sign-in: nothing from before it stays."""
    add_staff(app)
    client = app.test_client()
    html = client.get("/beheer/login").get_data(as_text=True)
    response = client.post("/beheer/login", data={"csrf_token": csrf_token(html),
                                                  "email": EMAIL,
                                                  "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    secret = sign_in(app.test_client())
    client = app.test_client()
    with client.session_transaction() as session:
        session["planted"] = "van voor de aanmelding"
    sign_in(client, secret=secret)
    with client.session_transaction() as session:
        assert "_user_id" in session and "planted" not in session


def test_forms_without_csrf_token_change_nothing(app, staff_client):
    """A POST without the token is refused."""
    registration = add_registration(app)
    response = staff_client.post(f"/beheer/aanmeldingen/{registration}/goedkeuren")
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(Registration, registration).status == "pending"


# -- pages and their actions ---------------------------------------------------------------------

def test_review_queue_shows_what_a_reviewer_checks(app, staff_client):
    """Company, KvK, sector, website as a link, contact, Warm doorverwijzen, consent, dates."""
    add_registration(app)
    html = staff_client.get("/beheer/aanmeldingen/").get_data(as_text=True)
    for text in ("Waterbedrijf Oost", "12345678", "Water", 'href="https://waterbedrijf.test"',
                 "Piet Jansen", "piet12345678@waterbedrijf.test",
                 "Doet mee aan Warm doorverwijzen", "Op de openbare lijst", "Bevestigd"):
        assert text in html, text
    shown = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", html, re.S))
    assert shown["KvK-nummer"] == "12345678"
    assert shown["Sector"] == "Water"
    assert 'href="https://waterbedrijf.test"' in shown["Website"]
    assert shown["Contactpersoon"].startswith("Piet Jansen, ")
    assert "piet12345678@waterbedrijf.test" in shown["Contactpersoon"]
    assert shown["Doet mee aan Warm doorverwijzen"] == "ja"
    assert shown["Op de openbare lijst"] == "ja, mag"
    assert re.fullmatch(r"\d\d-\d\d-\d{4} \d\d:\d\d UTC", shown["Bevestigd"])


def test_approve_counts_mails_the_contact_and_is_logged(app, staff_client):
    """Approval counts, queues the mail, marks the site for a rebuild, in one transaction."""
    registration = add_registration(app)
    response = post(staff_client, f"/beheer/aanmeldingen/{registration}/goedkeuren",
                    page="/beheer/aanmeldingen/")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Registration, registration).status == "approved"
        mail = db.session.scalar(select(OutboxMail).where(OutboxMail.kind == "adoption_approved"))
        assert mail.recipient == "piet12345678@waterbedrijf.test"
        assert db.session.get(Setting, "site_changed_at") is not None
        entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()))
        assert entry.action == "aanmelding goedgekeurd"
        assert entry.actor == EMAIL
        assert "12345678" in entry.record
    overview = staff_client.get("/beheer/").get_data(as_text=True)
    assert "<td>26</td>" in overview
    assert "De openbare site wordt bijgewerkt" in overview


def test_a_second_approval_of_the_same_kvk_is_refused_and_not_logged(app, staff_client):
    """The same company never counts twice; a refused action leaves no entry."""
    add_registration(app, status="approved")
    second = add_registration(app)
    before = audit_actions(app)
    post(staff_client, f"/beheer/aanmeldingen/{second}/goedkeuren", page="/beheer/aanmeldingen/")
    with app.app_context():
        assert db.session.get(Registration, second).status == "pending"
    assert audit_actions(app) == before
    assert "al goedgekeurd" in staff_client.get("/beheer/aanmeldingen/").get_data(as_text=True)


def test_reject_needs_a_reason_and_mails_it(app, staff_client):
    """Without a reason nothing happens; with one, the contact gets it."""
    registration = add_registration(app)
    url = f"/beheer/aanmeldingen/{registration}/afwijzen"
    post(staff_client, url, {"reason": " "}, page="/beheer/aanmeldingen/")
    with app.app_context():
        assert db.session.get(Registration, registration).status == "pending"
    page = staff_client.get("/beheer/aanmeldingen/").get_data(as_text=True)
    assert "Geef een reden op om af te wijzen." in page
    assert (f'<label for="reason-{registration}">Reden van afwijzen (de contactpersoon krijgt '
            "die te zien)</label>") in page
    post(staff_client, url, {"reason": "x" * 2001}, page="/beheer/aanmeldingen/")
    with app.app_context():
        assert db.session.get(Registration, registration).status == "pending"
    page = staff_client.get("/beheer/aanmeldingen/").get_data(as_text=True)
    assert "hoogstens 2000 tekens" in page and "Geef een reden op" not in page
    post(staff_client, url, {"reason": "Geen beleid gevonden"}, page="/beheer/aanmeldingen/")
    with app.app_context():
        assert db.session.get(Registration, registration).status == "rejected"
        mail = db.session.scalar(select(OutboxMail).where(OutboxMail.kind == "adoption_rejected"))
        assert mail.context["reason"] == "Geen beleid gevonden"
    assert audit_actions(app)[-1] == "aanmelding afgewezen"
    history = staff_client.get("/beheer/aanmeldingen/").get_data(as_text=True)
    assert "Geen beleid gevonden" in history


def test_unlist_and_the_number_before_the_registry(app, staff_client):
    """Unlisting keeps the count; the pre-registry number changes it; both are logged."""
    registration = add_registration(app, status="approved")
    html = staff_client.get("/beheer/deelnemers/?q=water").get_data(as_text=True)
    assert "Waterbedrijf Oost" in html
    assert "Waterbedrijf" not in staff_client.get("/beheer/deelnemers/?q=zzz").get_data(
        as_text=True).split("<tbody>")[1]
    post(staff_client, f"/beheer/deelnemers/{registration}/van-de-lijst",
         page="/beheer/deelnemers/")
    post(staff_client, "/beheer/deelnemers/voor-het-register", {"number": "30"},
         page="/beheer/deelnemers/")
    with app.app_context():
        assert db.session.get(Registration, registration).list_publicly is False
    assert audit_actions(app)[-2:] == ["van de openbare lijst gehaald",
                                       "aantal van vóór het register gewijzigd"]
    assert "<strong>31</strong>" in staff_client.get("/beheer/deelnemers/").get_data(
        as_text=True)


def test_unlisting_a_pending_registration_leaves_the_adopter_of_its_kvk_listed(app,
                                                                               staff_client):
    """Unlisting acts on the registration it names: a pending one with the listed adopter's
    KvK number is refused, and the adopter stays on the list."""
    adopter = add_registration(app, status="approved", kvk="12345678", name="Waterbedrijf Oost")
    pending = add_registration(app, kvk="12345678", name="Waterbedrijf Oost Nieuw")
    response = post(staff_client, f"/beheer/deelnemers/{pending}/van-de-lijst",
                    page="/beheer/deelnemers/")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Registration, adopter).list_publicly is True
        assert db.session.get(Registration, pending).list_publicly is True
    assert "van de openbare lijst gehaald" not in audit_actions(app)
    assert "bestaat niet (meer)" in staff_client.get("/beheer/deelnemers/").get_data(
        as_text=True)
    assert staff_client.get(f"/beheer/deelnemers/{pending}/").status_code == 404
    assert staff_client.get(f"/beheer/deelnemers/{adopter}/").status_code == 200


def test_the_number_before_the_registry_may_be_zero(app, staff_client):
    """0 is a number staff may set; an empty field is refused."""
    post(staff_client, "/beheer/deelnemers/voor-het-register", {"number": ""},
         page="/beheer/deelnemers/")
    with app.app_context():
        assert db.session.get(Setting, "adopters_before_registry") is None
    assert "Vul een aantal in." in staff_client.get("/beheer/deelnemers/").get_data(as_text=True)
    post(staff_client, "/beheer/deelnemers/voor-het-register", {"number": "-1"},
         page="/beheer/deelnemers/")
    with app.app_context():
        assert db.session.get(Setting, "adopters_before_registry") is None
    assert "Vul een aantal van 0 of meer in." in staff_client.get(
        "/beheer/deelnemers/").get_data(as_text=True)
    post(staff_client, "/beheer/deelnemers/voor-het-register", {"number": "0"},
         page="/beheer/deelnemers/")
    with app.app_context():
        assert db.session.get(Setting, "adopters_before_registry").value == "0"
    assert "<strong>0</strong>" in staff_client.get("/beheer/deelnemers/").get_data(as_text=True)


def test_opt_outs_are_added_and_removed_by_hash(app, staff_client):
    """A typed address becomes its keyed hash; the address is stored nowhere."""
    post(staff_client, "/beheer/afmeldingen/toevoegen", {"add-address": "Iemand+x@Voorbeeld.nl"},
         page="/beheer/afmeldingen/")
    with app.app_context():
        assert db.session.get(OptOut, address_hash("iemand@voorbeeld.nl")) is not None
        logged = " ".join(str(v) for e in db.session.scalars(select(AuditEntry))
                          for v in (e.record, e.detail))
        assert "iemand" not in logged.lower()
    html = staff_client.get("/beheer/afmeldingen/").get_data(as_text=True)
    assert '<strong id="opt-out-count">1</strong>' in html
    post(staff_client, "/beheer/afmeldingen/verwijderen", {"remove-address": "iemand@voorbeeld.nl"},
         page="/beheer/afmeldingen/")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OptOut)) == 0
    assert audit_actions(app)[-2:] == ["afmelding toegevoegd", "afmelding verwijderd"]


def test_outbox_shows_states_and_retries_a_waiting_mail(app, staff_client):
    """A mail waiting after a failure can be tried now; a final failure shows no address."""
    with app.app_context():
        later = utcnow().replace(year=utcnow().year + 1)
        for status, attempts in (("queued", 2), ("failed", 8)):
            db.session.add(OutboxMail(
                kind="invitation", status=status, recipient=None, recipient_hash="x",
                template="invitation", message_id=f"<{status}@test>", attempts=attempts,
                next_attempt_at=later, last_error="451 later", finished_at=utcnow()))
        db.session.commit()
        waiting = db.session.scalar(select(OutboxMail.id).where(OutboxMail.status == "queued"))
    html = staff_client.get("/beheer/outbox/").get_data(as_text=True)
    assert "Definitief mislukt" in html and "451 later" in html
    post(staff_client, f"/beheer/outbox/{waiting}/nu-proberen", page="/beheer/outbox/")
    with app.app_context():
        assert db.session.get(OutboxMail, waiting).next_attempt_at <= utcnow()
    assert audit_actions(app)[-1] == "mail opnieuw geprobeerd"


def test_mail_previews_render_every_template(app, staff_client):
    """Every mail the service sends, with sample data."""
    html = unescape(staff_client.get("/beheer/e-mails/").get_data(as_text=True))
    for text in ("Je collega Jan Jansen", "Bevestig de aanmelding", "telt mee",
                 "Op uw website vonden wij geen sociaal incassobeleid",
                 "Er wacht een nieuwe aanmelding op beoordeling"):
        assert text in html, text
    # The same in the mails' own text, not only in the subject lines above them.
    texts = re.findall(r'<pre class="staff-mail-text">(.*?)</pre>', html, re.S)
    assert len(texts) == 5
    for text, expected in zip(texts, (
            "Je collega Jan Jansen", "Bevestig de aanmelding via deze link",
            "wij hebben de aanmelding van Voorbeeld Energie B.V. goedgekeurd",
            "Op uw website vonden wij geen sociaal incassobeleid",
            "Er wacht een nieuwe aanmelding op beoordeling"), strict=True):
        assert expected in text, expected


def test_the_tip_preview_has_the_opt_out_link_a_real_tip_has(app, staff_client):
    """The sample tip is made as a real one is: its opt-out link is one the site honours."""
    from mailer.invites.email import opted_out_hash
    from mailer.staff.figures import SAMPLE_TIP_ADDRESS

    html = unescape(staff_client.get("/beheer/e-mails/").get_data(as_text=True))
    site = app.config["SITE_URL"]
    tokens = set(re.findall(re.escape(f"{site}/tip-een-collega/afmelden/") + r"([\w.-]+)", html))
    assert len(tokens) == 1
    with app.test_request_context():
        assert opted_out_hash(tokens.pop()) == address_hash(SAMPLE_TIP_ADDRESS)


def test_mail_previews_show_the_subjects_and_badge_addresses_the_real_mails_have(app, staff_client):
    """The approval and rejection mails queued for real carry the subjects the previews show,
    and the preview's badge lives where a real one does."""
    approved = add_registration(app, kvk="11111111", name="Voorbeeld Energie B.V.")
    rejected = add_registration(app, kvk="22222222")
    post(staff_client, f"/beheer/aanmeldingen/{approved}/goedkeuren", page="/beheer/aanmeldingen/")
    post(staff_client, f"/beheer/aanmeldingen/{rejected}/afwijzen", {"reason": "Geen beleid"},
         page="/beheer/aanmeldingen/")
    html = unescape(staff_client.get("/beheer/e-mails/").get_data(as_text=True))
    with app.app_context():
        mails = {mail.kind: mail for mail in db.session.scalars(select(OutboxMail))}
    for kind in ("adoption_approved", "adoption_rejected"):
        assert f"Onderwerp: <strong>{mails[kind].subject}</strong>" in html, kind
    assert mails["adoption_approved"].context["badge_url"] in html


def test_overview_chart_and_table_hold_the_same_numbers(app, staff_client):
    """The SVG chart is drawn on the server; the table beside it has the numbers."""
    add_registration(app, status="approved")
    html = staff_client.get("/beheer/").get_data(as_text=True)
    assert "<svg" in html and 'role="img"' in html
    table = html.split('id="week-table"')[1]
    rows = re.findall(r"<tr><th scope=\"row\">[^<]+</th><td>(\d+)</td><td>(\d+)</td></tr>", table)
    assert len(rows) == 12
    assert rows[-1] == ("1", "0")
    assert html.count("<rect") >= 24
    assert "<script" not in html.split('<article')[1].split("</article>")[0]


def test_the_log_cannot_be_changed_from_the_site(app, staff_client):
    """The log page only reads; no route writes to it but the actions themselves."""
    html = staff_client.get("/beheer/logboek/").get_data(as_text=True)
    assert "aangemeld" in html
    assert "<form" not in html.split('id="log"')[1]
    methods = {m for rule in app.url_map.iter_rules() if rule.rule.startswith("/beheer/logboek")
               for m in rule.methods}
    assert methods <= {"GET", "HEAD", "OPTIONS"}


# -- Deelnemers: edit, remove, add, export, import -----------------------------------------------

def test_edit_and_remove_an_adopter(app, staff_client):
    """Public fields change and are logged with old and new value; removal uncounts it."""
    registration = add_registration(app, status="approved")
    url = f"/beheer/deelnemers/{registration}/"
    assert "Waterbedrijf Oost" in staff_client.get(url).get_data(as_text=True)
    response = post(staff_client, url, {"company_name": "<b>x</b>", "sector": "water"})
    assert response.status_code == 400
    post(staff_client, url, {"company_name": "Waterbedrijf Oost-Nederland", "sector": "energie",
                             "website": "", "list_publicly": "y"})
    with app.app_context():
        row = db.session.get(Registration, registration)
        assert (row.company_name, row.sector, row.website) == (
            "Waterbedrijf Oost-Nederland", "energie", None)
        assert row.slug == "waterbedrijf-oost"  # badges elsewhere keep working
        entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()))
        assert entry.action == "deelnemer gewijzigd"
        assert "Waterbedrijf Oost → Waterbedrijf Oost-Nederland" in entry.detail
    post(staff_client, url, {"company_name": "Waterbedrijf Oost-Nederland", "sector": "energie",
                             "website": "   ", "list_publicly": "y"})  # spaces: still none
    with app.app_context():
        assert db.session.get(Registration, registration).website is None
    assert "Er was niets veranderd." in staff_client.get(url).get_data(as_text=True)
    post(staff_client, f"/beheer/deelnemers/{registration}/verwijderen", page=url)
    with app.app_context():
        assert db.session.get(Registration, registration) is None
    assert audit_actions(app)[-1] == "deelnemer verwijderd"


def test_add_an_adopter_by_hand_counts_once(app, staff_client):
    """Added by hand it counts at once; the same KvK number a second time is refused."""
    data = {"company_name": "Telecom Zuid", "kvk": "99999999", "sector": "telecom",
            "website": "telecomzuid.nl", "list_publicly": "y"}
    assert post(staff_client, "/beheer/deelnemers/nieuw", data).status_code == 303
    again = post(staff_client, "/beheer/deelnemers/nieuw", data)
    assert again.status_code == 400
    assert "telt al mee" in again.get_data(as_text=True)
    with app.app_context():
        rows = db.session.scalars(select(Registration).where(Registration.kvk == "99999999"))
        assert [(r.status, r.website) for r in rows] == [("approved", "https://telecomzuid.nl")]
    assert audit_actions(app)[-1] == "deelnemer toegevoegd"


def test_export_is_excel_csv_and_safe_against_formulas(app, staff_client):
    """`;`, a UTF-8 BOM, and every cell that starts like a formula neutralised."""
    with app.app_context():
        for n, name in enumerate(["=HYPERLINK(\"http://kwaad\")", "+31 Bellen", "-min",
                                  "@SUM(A1)", "Gewoon B.V."]):
            db.session.add(Registration(
                company_name=name, kvk=f"1000000{n}", sector="zorg", contact_name="=1+1",
                contact_email="a@b.nl", status="approved", decided_at=utcnow()))
        db.session.commit()
    response = post(staff_client, "/beheer/deelnemers/export.csv", page="/beheer/deelnemers/")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("company_name;kvk;sector")
    cells = [cell.strip('"') for line in lines[1:] for cell in line.split(";")]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]
    assert "'=HYPERLINK(\"\"http://kwaad\"\")" in raw.decode("utf-8-sig")
    assert "Gewoon B.V." in cells
    assert audit_actions(app)[-1] == "deelnemers geëxporteerd"


ROUND_TRIP_FIELDS = ("company_name", "kvk", "sector", "website", "list_publicly", "contact_name",
                     "contact_email")


def adopters_as_stored(app) -> list[tuple]:
    """The approved adopters' exported fields, in KvK order."""
    with app.app_context():
        rows = db.session.scalars(select(Registration).where(Registration.status == "approved")
                                  .order_by(Registration.kvk))
        return [tuple(getattr(row, key) for key in ROUND_TRIP_FIELDS) for row in rows]


def export_and_clear(app, staff_client, path) -> list[tuple]:
    """Download the export to `path`, then delete the adopters; returns them as they were."""
    response = post(staff_client, "/beheer/deelnemers/export.csv", page="/beheer/deelnemers/")
    path.write_bytes(response.get_data())
    stored = adopters_as_stored(app)
    with app.app_context():
        db.session.execute(delete(Registration))
        db.session.commit()
    return stored


def test_the_command_line_imports_the_sites_own_export(app, staff_client, tmp_path):
    """The export (`;`, as Dutch Excel reads it) goes back in with `mailer adoptions import`."""
    add_registration(app, status="approved", kvk="12345678")
    add_registration(app, status="approved", kvk="87654321", name="Wonen, Zorg en Meer",
                     listed=False)
    with app.app_context():  # addresses and sites an import accepts (.test is refused)
        for row in db.session.scalars(select(Registration)):
            row.contact_email, row.website = f"piet{row.kvk}@voorbeeld.nl", "https://voorbeeld.nl"
        db.session.commit()
    path = tmp_path / "deelnemers.csv"
    stored = export_and_clear(app, staff_client, path)
    assert len(stored) == 2
    result = app.test_cli_runner().invoke(args=["adoptions", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "2 toegevoegd" in result.output
    assert adopters_as_stored(app) == stored


def test_a_cell_the_export_quoted_imports_as_it_was(app, staff_client, tmp_path):
    """The quote the export puts before a formula-like cell is taken off again on import."""
    add_registration(app, status="approved", kvk="12345678")
    with app.app_context():
        row = db.session.scalar(select(Registration))
        row.contact_email, row.website = "-info@voorbeeld.nl", "https://voorbeeld.nl"
        db.session.commit()
    path = tmp_path / "deelnemers.csv"
    stored = export_and_clear(app, staff_client, path)
    assert "'-info@voorbeeld.nl" in path.read_text(encoding="utf-8-sig")
    result = app.test_cli_runner().invoke(args=["adoptions", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert adopters_as_stored(app) == stored


def test_import_preview_stores_nothing_until_confirmed(app, staff_client):
    """The preview lists each row's outcome and errors; only the confirmation stores."""
    add_registration(app, status="approved", kvk="12345678")
    csv_text = ("\ufeffcompany_name;kvk;sector;website;list_publicly\r\n"
                "Nieuw Wonen;11112222;wonen;nieuwwonen.nl;ja\r\n"
                "Dubbel;12345678;water;;ja\r\n"
                "Fout;123;zorg;;ja\r\n")
    html = staff_client.get("/beheer/deelnemers/import").get_data(as_text=True)
    preview = staff_client.post("/beheer/deelnemers/import", data={
        "csrf_token": csrf_token(html),
        "file": (__import__("io").BytesIO(csv_text.encode("utf-8")), "deelnemers.csv")})
    text = unescape(preview.get_data(as_text=True))
    assert "toegevoegd: Nieuw Wonen" in text
    assert "KvK 12345678 telt al mee" in text
    assert "8 cijfers" in text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Registration)) == 1
    confirm = re.search(r'name="csv_text" type="hidden" value="([^"]+)"', preview.get_data(
        as_text=True)) or re.search(r'type="hidden" name="csv_text" value="([^"]+)"',
                                    preview.get_data(as_text=True))
    assert confirm
    forged = staff_client.post("/beheer/deelnemers/import/opslaan", data={
        "csrf_token": csrf_token(html), "csv_text": confirm.group(1)[:-2] + "xx"})
    assert forged.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Registration)) == 1
    staff_client.post("/beheer/deelnemers/import/opslaan", data={
        "csrf_token": csrf_token(html), "csv_text": unescape(confirm.group(1))})
    with app.app_context():
        names = set(db.session.scalars(select(Registration.company_name)))
        assert names == {"Waterbedrijf Oost", "Nieuw Wonen"}
        assert db.session.get(Setting, "site_changed_at") is not None
    assert audit_actions(app)[-1] == "deelnemers geïmporteerd"


def staff_import(staff_client, csv_text: str):
    """Choose a CSV file on the import page and confirm its preview."""
    html = staff_client.get("/beheer/deelnemers/import").get_data(as_text=True)
    preview = staff_client.post("/beheer/deelnemers/import", data={
        "csrf_token": csrf_token(html),
        "file": (__import__("io").BytesIO(csv_text.encode("utf-8")), "deelnemers.csv")})
    confirm = re.search(r'name="csv_text"[^>]* value="([^"]+)"', preview.get_data(as_text=True))
    return staff_client.post("/beheer/deelnemers/import/opslaan", data={
        "csrf_token": csrf_token(html), "csv_text": unescape(confirm.group(1))})


def test_the_import_log_entry_names_each_adopter_on_one_readable_line(app, staff_client):
    """The log shows the detail as one line: names are separated by "; "."""
    staff_import(staff_client, "company_name,kvk,sector\nEen BV,11112222,wonen\n"
                               "Twee BV,33334444,water\n")
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()))
    assert entry.action == "deelnemers geïmporteerd"
    assert entry.detail == ("toegevoegd: Een BV (KvK 11112222); "
                            "toegevoegd: Twee BV (KvK 33334444)")


# -- the review address hears of every confirmed registration ------------------------------------

def test_a_confirmed_registration_mails_the_review_address_once(make_app, smtp):
    """Confirmed through the real form and link, the reviewers get one mail with a link."""
    from test_adoptions import deliver, register_and_confirm, text_part

    from mailer.staff.review import notify_reviewers

    app = make_app(REVIEW_EMAIL="beoordeling@schuldeiserscoalitie.nl", JOIN_MIN_FILL_SECONDS=0)
    client = app.test_client()
    with app.app_context():
        assert notify_reviewers() == 0
    register_and_confirm(client, app, smtp)
    with app.app_context():
        assert notify_reviewers() == 1
        assert notify_reviewers() == 0  # told once
    message = deliver(app, smtp)[-1]
    assert message["To"] == "beoordeling@schuldeiserscoalitie.nl"
    assert message["Subject"].startswith("Nieuwe aanmelding: ")
    with app.app_context():
        registration = db.session.scalar(select(Registration))
    assert (f"https://schuldeiserscoalitie.test/beheer/aanmeldingen/#reg-{registration.id}"
            in text_part(message))


def mails_confirmations_out_of_order(app) -> None:
    """Two confirmations side by side: the one stamped later commits first and is mailed; the one
    stamped earlier commits after that mail and is mailed too, once."""
    from mailer.staff.review import notify_reviewers

    app.config["REVIEW_EMAIL"] = "beoordeling@schuldeiserscoalitie.nl"
    earlier = utcnow()
    add_registration(app, kvk="11112222", name="Eerste BV",
                     confirmed_at=earlier + timedelta(seconds=1))
    with app.app_context():
        assert notify_reviewers() == 1
    add_registration(app, kvk="33334444", name="Tweede BV", confirmed_at=earlier)
    with app.app_context():
        assert notify_reviewers() == 1
        assert notify_reviewers() == 0
        mailed = db.session.scalars(select(OutboxMail.context)
                                    .where(OutboxMail.kind == "review_requested")).all()
    assert sorted(context["registration"]["company_name"] for context in mailed) == [
        "Eerste BV", "Tweede BV"]


def test_a_confirmation_committed_after_a_later_stamped_one_is_mailed_too(app):
    mails_confirmations_out_of_order(app)


def test_without_a_review_address_nobody_is_mailed(app, client, smtp):
    """The setting empty: nothing queued."""
    from mailer.staff.review import notify_reviewers

    add_registration(app)
    with app.app_context():
        assert notify_reviewers() == 0
        assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 0


def test_wrong_codes_count_towards_the_lockout(app, smtp):
    """Guessing the authenticator or a recovery code hits the same limit as passwords."""
    add_staff(app)
    secret = sign_in(app.test_client())
    client = app.test_client()
    post(client, "/beheer/login", {"email": EMAIL, "password": PASSWORD})
    for _ in range(3):
        post(client, "/beheer/tf-validate", {"code": "000000"})
    for _ in range(2):
        post(client, "/beheer/mf-recovery", {"code": "abcd-efgh-ijkl"})
    right = post(client, "/beheer/tf-validate", {"code": pyotp.TOTP(secret).now()})
    assert "Te veel mislukte pogingen" in right.get_data(as_text=True)
    assert client.get("/beheer/").status_code == 302


def test_the_rescue_page_sends_no_mail(app, smtp):
    """Flask-Security's "contact the administrator" mail is not on offer."""
    add_staff(app)
    sign_in(app.test_client())
    client = app.test_client()
    post(client, "/beheer/login", {"email": EMAIL, "password": PASSWORD})
    response = post(client, "/beheer/tf-rescue", {"help_setup": "help"})
    assert response.status_code == 200
    assert smtp.messages == []
    with app.app_context():  # nor waiting in the outbox to be sent later
        assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 0
    assert client.get("/beheer/").status_code == 302


def test_accounts_page_is_for_admins_who_block_and_reset(app):
    """Staff get 403; an admin blocks an account (signed out at once) and resets its app."""
    add_staff(app, "beheerder@schuldeiserscoalitie.nl", admin=True)
    add_staff(app)
    colleague = app.test_client()
    sign_in(colleague)
    assert colleague.get("/beheer/accounts/").status_code == 403
    admin = app.test_client()
    sign_in(admin, email="beheerder@schuldeiserscoalitie.nl")
    html = admin.get("/beheer/accounts/").get_data(as_text=True)
    assert EMAIL in html
    with app.app_context():
        user_id = db.session.scalar(select(StaffUser.id).where(StaffUser.email == EMAIL))
    post(admin, f"/beheer/accounts/{user_id}/actief", page="/beheer/accounts/")
    assert colleague.get("/beheer/").status_code == 302
    blocked = post(app.test_client(), "/beheer/login", {"email": EMAIL, "password": PASSWORD})
    assert blocked.status_code == 200
    post(admin, f"/beheer/accounts/{user_id}/actief", page="/beheer/accounts/")
    post(admin, f"/beheer/accounts/{user_id}/tweede-stap-opnieuw", page="/beheer/accounts/")
    with app.app_context():
        user = db.session.get(StaffUser, user_id)
        assert user.active and user.tf_totp_secret is None
        assert user.tf_primary_method is None and user.mf_recovery_codes is None
    sign_in(app.test_client())  # sets the app up again
    assert audit_actions(app)[-4:-1] == ["account geblokkeerd", "account gedeblokkeerd",
                                         "tweede stap opnieuw ingesteld"]


def test_staff_reset_and_remove_on_the_command_line(app):
    """`reset` asks a new password and a new app; `remove` ends the account."""
    add_staff(app)
    client = app.test_client()
    sign_in(client)
    runner = app.test_cli_runner()
    new = "een ander lang wachtwoord"
    result = runner.invoke(args=["staff", "reset", EMAIL], input=f"{new}\n{new}\n")
    assert result.exit_code == 0, result.output
    assert client.get("/beheer/").status_code == 302  # its sessions ended
    sign_in(app.test_client(), password=new)  # first sign-in again: the app is set up anew
    assert runner.invoke(args=["staff", "remove", EMAIL]).exit_code == 0
    assert runner.invoke(args=["staff", "remove", EMAIL]).exit_code != 0
    response = post(app.test_client(), "/beheer/login", {"email": EMAIL, "password": new})
    assert response.status_code == 200
    actions = audit_actions(app)
    assert "account hersteld" in actions and actions[-1] == "account verwijderd"


def test_the_log_is_kept_two_years_and_the_database_refuses_changes(app):
    """Older than two years goes in the housekeeping; an entry cannot be updated at all."""
    from sqlalchemy import update
    from sqlalchemy.exc import DatabaseError

    from mailer.staff import audit

    with app.app_context():
        now = utcnow()
        for days in (729, 731):
            db.session.add(AuditEntry(actor="a", action=f"{days} dagen",
                                      at=now - __import__("datetime").timedelta(days=days)))
        db.session.commit()
        assert audit.purge() == 1
        db.session.commit()
        assert list(db.session.scalars(select(AuditEntry.action))) == ["729 dagen"]
        with pytest.raises(DatabaseError, match="niet te wijzigen"):
            db.session.execute(update(AuditEntry).values(action="verzonnen"))
        db.session.rollback()


def test_tips_per_week_outlive_the_traces_of_the_mails(app):
    """The hourly housekeeping keeps each week's count before the outbox forgets the mails."""
    from datetime import timedelta

    from mailer.cli import housekeeping
    from mailer.staff.figures import per_week

    with app.app_context():
        long_ago = utcnow() - timedelta(weeks=8)
        for n in range(3):
            db.session.add(OutboxMail(
                kind="invitation", status="sent", recipient=None, recipient_hash="x",
                template="invitation", message_id=f"<{n}@test>", created_at=long_ago,
                finished_at=long_ago))
        db.session.commit()
        assert sum(row["tips"] for row in per_week(12)) == 3
        housekeeping()  # keeps the count, then deletes traces older than 30 days
        assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 0
        weeks = per_week(12)
        assert sum(row["tips"] for row in weeks) == 3
        assert [row["tips"] for row in weeks].count(3) == 1
        housekeeping()
        assert sum(row["tips"] for row in per_week(12)) == 3  # counted once


def counts_weeks_from_monday(app) -> None:
    """Approvals and tips fall in the week of their Monday, the first and last moments of a week
    included; what came before the twelve weeks is left out."""
    from mailer.staff.figures import keep_weekly_tips, per_week

    with app.app_context():
        today = utcnow().date()
        monday = datetime.combine(today - timedelta(days=today.weekday()), time())
        first = monday - timedelta(weeks=11)
        moments = {"last_sunday": monday - timedelta(microseconds=1), "this_monday": monday,
                   "first": first, "before": first - timedelta(microseconds=1)}
        for n, (name, moment) in enumerate(moments.items()):
            db.session.add(OutboxMail(kind="invitation", status="sent", recipient_hash="x",
                                      template="invitation", message_id=f"<{n}@test>",
                                      created_at=moment))
            db.session.add(Registration(
                company_name=name, kvk=f"1000000{n}", sector="water", contact_name="Piet",
                contact_email="piet@waterbedrijf.test", status="approved", slug=name,
                confirmed_at=moment, decided_at=moment))
        db.session.add(OutboxMail(kind="invitation", status="failed", recipient_hash="x",
                                  template="invitation", message_id="<failed@test>",
                                  created_at=monday))
        db.session.commit()
        weeks = per_week(12)
        assert [row["week"] for row in weeks] == [
            first.date() + timedelta(weeks=n) for n in range(12)]
        expected = [1] + [0] * 9 + [1, 1]
        assert [row["adoptions"] for row in weeks] == expected
        assert [row["tips"] for row in weeks] == expected
        keep_weekly_tips()
        db.session.commit()
        kept = dict(db.session.execute(select(WeeklyTips.week, WeeklyTips.tips)).all())
        assert kept == {first.date() - timedelta(weeks=1): 1, first.date(): 1,
                        monday.date() - timedelta(weeks=1): 1, monday.date(): 1}


def test_weeks_start_on_monday(app):
    counts_weeks_from_monday(app)


@pytest.mark.parametrize("path", ["/beheer/login", "/beheer/"])
def test_staff_pages_are_never_cached_nor_indexed(client, path):
    """Sign-in included: no-store and noindex."""
    response = client.get(path)
    assert response.headers["Cache-Control"] == "no-store"
    assert "noindex" in response.headers["X-Robots-Tag"]


def test_reauthentication_page_is_ours_and_unused_library_pages_are_not_found(app, staff_client):
    """Asking the password again shows our page; a page of an unused feature shows nothing of
    the library's own (choosing a second factor, of which there is one, sends to sign-in)."""
    html = staff_client.get("/beheer/verify").get_data(as_text=True)
    assert "Bevestig dat u het bent" in html
    assert html.count("<html") == 1
    unused = staff_client.get("/beheer/tf-select")
    assert unused.status_code == 302 and unused.location.endswith("/beheer/login")


def test_an_import_too_large_is_refused_before_anything(app, staff_client):
    """A file above the limit gets a clear message, no preview."""
    import io

    html = staff_client.get("/beheer/deelnemers/import").get_data(as_text=True)
    big = b"company_name,kvk,sector\n" + b"Naam,12345678,zorg\n" * 20000
    response = staff_client.post("/beheer/deelnemers/import", data={
        "csrf_token": csrf_token(html), "file": (io.BytesIO(big), "groot.csv")})
    assert response.status_code == 400
    assert "te groot" in response.get_data(as_text=True)


@pytest.mark.parametrize("typed", ["Anna@Bücher.nl", "anna@xn--bcher-kva.nl"])
def test_an_account_at_an_international_domain_signs_in_however_it_is_typed(app, typed):
    add_staff(app, "anna@bücher.nl")
    sign_in(app.test_client(), email=typed)
    result = app.test_cli_runner().invoke(args=["staff", "remove", typed], input="y\n")
    assert result.exit_code == 0, result.output
