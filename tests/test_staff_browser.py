"""The staff area in headless Chromium: sign-in with the authenticator app, every page free of
axe violations, an approval by button, sign-out, the idle timeout and the lockout."""

import re
import time

import pyotp
import pytest
from conftest import axe_violations, describe_violations
from test_staff import EMAIL, PASSWORD, add_registration, add_staff

from mailer.extensions import db
from mailer.models import OutboxMail, Registration, utcnow

pytestmark = pytest.mark.browser

STAFF_PAGES = ["/beheer/", "/beheer/aanmeldingen/", "/beheer/deelnemers/", "/beheer/outbox/",
               "/beheer/afmeldingen/", "/beheer/e-mails/", "/beheer/logboek/",
               "/beheer/deelnemers/nieuw", "/beheer/deelnemers/import", "/beheer/accounts/"]


def assert_accessible(page) -> None:
    """Axe finds nothing on the page as it is."""
    violations = axe_violations(page)
    assert violations == [], f"{page.url}\n" + describe_violations(violations)


def type_password(page, password: str) -> None:
    """Fill in and send the sign-in form."""
    page.fill("#email", EMAIL)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")


def first_sign_in(page, live: str) -> str:
    """Sign in for the first time: password, set up the app, recovery codes. Returns the key."""
    page.goto(live + "/beheer/")
    assert "/beheer/login" in page.url
    type_password(page, PASSWORD)
    assert "/beheer/tf-setup" in page.url
    with page.expect_navigation():
        page.click("button[type=submit]")
    secret = re.sub(r"[^A-Z2-7]", "", page.inner_text("#authr-key").upper())
    assert page.locator("img#qrcode").evaluate("img => img.naturalWidth") > 0
    assert_accessible(page)
    page.fill("#code", pyotp.TOTP(secret).now())
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "/beheer/mf-recovery-codes" in page.url
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator("#recovery-codes li").count() == 8
    assert_accessible(page)
    with page.expect_navigation():
        page.click("text=Verder naar het beheer")
    assert page.locator("h1").inner_text() == "Overzicht"
    return secret


def test_sign_in_review_and_sign_out_in_the_browser(app, live, page):
    """A new staff member signs in with two-factor, every page passes axe, approves, signs out."""
    add_staff(app, admin=True)
    registration = add_registration(app)
    add_registration(app, status="approved", kvk="87654321", name="Energie Noord")
    with app.app_context():
        db.session.add(OutboxMail(kind="invitation", status="failed", recipient=None,
                                  recipient_hash="x", template="invitation",
                                  message_id="<f@test>", attempts=8, last_error="550 onbekend",
                                  finished_at=utcnow()))
        db.session.commit()

    page.goto(live + "/beheer/login")
    assert_accessible(page)
    type_password(page, "niet het wachtwoord")
    assert page.locator(".mailer-errors").inner_text().count("Aanmelden mislukt") == 1
    assert_accessible(page)
    first_sign_in(page, live)

    for path in STAFF_PAGES:
        page.goto(live + path)
        assert page.locator("h1").count() == 1
        assert_accessible(page)

    page.goto(live + "/beheer/deelnemers/")
    with page.expect_navigation():
        page.click("text=Energie Noord")
    assert_accessible(page)
    page.goto(live + "/beheer/deelnemers/import")
    page.set_input_files("#file", files=[{
        "name": "deelnemers.csv", "mimeType": "text/csv",
        "buffer": b"company_name;kvk;sector\r\nZorg West;55556666;zorg\r\nFout;1;zorg\r\n",
    }])
    with page.expect_navigation():
        page.click("text=Voorbeeld tonen")
    assert "toegevoegd: Zorg West" in page.inner_text("#import-preview")
    assert_accessible(page)

    page.goto(live + "/beheer/aanmeldingen/")
    with page.expect_navigation():
        page.click("text=Waterbedrijf Oost goedkeuren")
    assert "is goedgekeurd" in page.inner_text("article")
    with app.app_context():
        assert db.session.get(Registration, registration).status == "approved"
    page.goto(live + "/beheer/logboek/")
    assert "aanmelding goedgekeurd" in page.inner_text("#log")

    with page.expect_navigation():
        page.click("text=Afmelden")
    assert "/beheer/login" in page.url
    page.goto(live + "/beheer/")
    assert "/beheer/login" in page.url


def test_idle_timeout_and_lockout_in_the_browser(app, live, page):
    """Idle past the limit: signed out. Five wrong passwords: the right one is refused too."""
    add_staff(app)
    secret = first_sign_in(page, live)
    app.config["STAFF_IDLE_MINUTES"] = 2 / 60  # two seconds, for this test
    time.sleep(3)
    page.goto(live + "/beheer/deelnemers/")
    assert "/beheer/login" in page.url
    assert "sessie verlopen" in page.inner_text("article")

    app.config["STAFF_IDLE_MINUTES"] = 30
    type_password(page, PASSWORD)
    assert "/beheer/tf-validate" in page.url
    assert_accessible(page)
    with page.expect_navigation():
        page.click("text=Gebruik een herstelcode")
    assert_accessible(page)
    page.go_back()
    page.fill("#code", pyotp.TOTP(secret).now())
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Deelnemers"  # back where the session ended
    with page.expect_navigation():
        page.click("text=Afmelden")

    for _ in range(5):
        type_password(page, "niet het wachtwoord")
    type_password(page, PASSWORD)
    assert "Te veel mislukte pogingen" in page.inner_text("article")
    assert "/beheer/login" in page.url
