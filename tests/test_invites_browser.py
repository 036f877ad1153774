"""Tip een collega in headless Chromium: the whole flow with JavaScript off, and axe-core."""

import pytest
from conftest import axe_violations, describe_violations

from mailer.outbox import send_due_mail

pytestmark = pytest.mark.browser

def new_page(browser, javascript: bool):
    """A fresh tab in its own context; collects script errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  java_script_enabled=javascript)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page


def submit(page, name: str) -> None:
    """Press a button and wait for the next page."""
    with page.expect_navigation():
        page.get_by_role("button", name=name).click()


def assert_no_axe_violations(page) -> None:
    """Run axe-core on the page as it is: it must find nothing."""
    violations = axe_violations(page)
    assert violations == [], describe_violations(violations)


def test_the_whole_flow_works_without_javascript(app, live, browser, smtp):
    page = new_page(browser, javascript=False)
    page.goto(live + "/tip-een-collega/")
    page.fill("#voornaam", "Zoë")
    page.fill("#achternaam", "Jansen")
    page.fill("#collega_1", "piet@voorbeeld.nl")
    submit(page, "Bekijk de e-mail")
    assert page.title().startswith("Controleer uw tip")
    assert "Je collega Zoë Jansen wil je graag" in page.inner_text(".mailer-preview__text")

    submit(page, "Aanpassen")
    assert page.input_value("#collega_1") == "piet@voorbeeld.nl"
    page.fill("#collega_2", "anna@voorbeeld.nl")
    submit(page, "Bekijk de e-mail")
    assert page.locator(".mailer-preview").count() == 2
    submit(page, "Versturen")
    assert page.url.endswith("/tip-een-collega/verstuurd/")
    assert "Bedankt voor uw tip" in page.inner_text("h1")
    page.context.close()

    with app.app_context():
        assert send_due_mail()["sent"] == 2
    assert sorted(mail["To"] for mail in smtp.messages) == ["anna@voorbeeld.nl",
                                                            "piet@voorbeeld.nl"]


def test_form_with_errors_and_preview_have_no_axe_violations(live, browser):
    page = new_page(browser, javascript=True)
    page.goto(live + "/tip-een-collega/")
    page.fill("#voornaam", "<script>")
    page.fill("#collega_1", "Piet <piet@voorbeeld.nl>")
    page.fill("#collega_2", "a@b.nl, c@d.nl")
    submit(page, "Bekijk de e-mail")
    assert page.title().startswith("Fout:")
    assert page.locator(".mailer-field--error").count() == 4
    assert page.locator(".mailer-errors a").count() == 4
    assert_no_axe_violations(page)

    page.fill("#voornaam", "Zoë")
    page.fill("#achternaam", "Jansen")
    page.fill("#collega_1", "piet@voorbeeld.nl")
    page.fill("#collega_2", "")
    submit(page, "Bekijk de e-mail")
    assert page.title().startswith("Controleer uw tip")
    assert_no_axe_violations(page)
    assert page.errors == []
    page.context.close()


@pytest.mark.parametrize("path", ["/tip-een-collega/", "/meedoen/"])
def test_forms_are_styled_and_their_bot_trap_is_out_of_sight(browser, live, path):
    """The form styles load with the page: people never see or reach the trap field."""
    page = new_page(browser, javascript=False)
    page.goto(live + path)
    trap = page.locator(".mailer-trap")
    box = trap.bounding_box()
    assert box is not None and (box["x"] + box["width"] <= 0 or box["width"] <= 1), box
    assert page.locator(".mailer-trap input").first.get_attribute("tabindex") == "-1"
    border = page.eval_on_selector(".mailer-field input[type=text]",
                                   "e => getComputedStyle(e).borderTopWidth")
    assert border == "2px"
    page.context.close()
