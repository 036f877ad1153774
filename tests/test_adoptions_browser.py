"""Join in headless Chromium: the live counter after an approval, and the form's accessibility."""

import json
import os
import threading
from pathlib import Path

import pytest
from conftest import free_port
from test_adoptions import count, register_and_confirm
from werkzeug.serving import make_server

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    """The system Chromium, headless; missing, it skips locally and fails in CI."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} ontbreekt: installeer het Debian-pakket chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live(app):
    """The real app (site and service on one origin) on 127.0.0.1, served from a thread."""
    app.config["JOIN_MIN_FILL_SECONDS"] = 0
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def page(browser):
    """A fresh browser tab; fails the test on any script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == []


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
    import axe_core_python

    page.goto(live + "/meedoen/")
    page.fill("#company_name", "Waterbedrijf Voorbeeld")
    page.fill("#kvk", "1234567")
    page.fill("#website", "javascript:alert(1)")
    page.fill("#contact_email", "Anna <anna@voorbeeld.nl>")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.title().startswith("Fout:")
    assert page.locator(".mailer-field--error").count() >= 5

    script = Path(axe_core_python.__file__).parent / "axe.min.js"
    page.add_script_tag(content=script.read_text(encoding="utf-8"))
    result = page.evaluate("async () => JSON.stringify(await axe.run(document))")
    violations = json.loads(result)["violations"]
    assert violations == [], "\n".join(
        f"{v['id']}: {v['help']} {[n['target'] for n in v['nodes']]}" for v in violations
    )


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
