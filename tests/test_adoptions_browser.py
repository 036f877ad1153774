"""Join in headless Chromium: the live counter after an approval, and the form's accessibility."""

import pytest
from conftest import axe_violations, describe_violations
from test_adoptions import count, register_and_confirm

pytestmark = pytest.mark.browser

def test_counter_shows_the_approval_live(app, client, runner, smtp, live, page):
    register_and_confirm(client, app, smtp)
    assert runner.invoke(args=["adoptions", "approve", "12345678"]).exit_code == 0
    assert count(client) == 26
    # The page itself was built when the count was 25; only the script can know better.
    assert "data-adoptions-count>25<" in client.get("/").text.replace(" ", "")

    page.goto(live + "/")
    counter = page.locator("[data-adoptions-count]").first
    counter.wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-adoptions-count]')]"
        ".every(node => node.textContent.trim() === '26')",
        timeout=10_000,
    )
    assert counter.inner_text().strip() == "26"


def test_form_with_errors_has_no_axe_violations(live, page):
    page.goto(live + "/meedoen/")
    page.fill("#company_name", "Waterbedrijf Voorbeeld")
    page.fill("#kvk", "1234567")
    page.fill("#website", "javascript:alert(1)")
    page.fill("#contact_email", "Anna <anna@voorbeeld.nl>")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.title().startswith("Fout:")
    assert page.locator(".mailer-field--error").count() >= 5

    violations = axe_violations(page)
    assert violations == [], describe_violations(violations)


def test_registration_works_in_the_browser(app, live, page, smtp):
    page.goto(live + "/meedoen/")
    page.fill("#company_name", "Waterbedrijf Voorbeeld")
    page.fill("#kvk", "12345678")
    page.select_option("#sector", "water")
    page.fill("#contact_name", "Anna de Vries")
    page.fill("#contact_email", "anna@voorbeeld.nl")
    page.check("#adopted_policy")
    page.check("#list_publicly")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url == live + "/meedoen/verstuurd/"
    assert page.locator("h1").inner_text() == "Controleer uw e-mail"
