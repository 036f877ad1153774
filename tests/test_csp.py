"""The Content-Security-Policy in headless Chromium: no page breaks it, and the theme still works.

The service serves the site as in `make run`; its policy allows scripts from the site itself and
the pages' inline scripts by their hash only ('unsafe-inline' is not in script-src).
"""

import re

import pytest
from site_helpers import PAGES, first_search_result

pytestmark = pytest.mark.browser

# Registered before any script of the page runs, so every violation is seen.
COLLECT_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sample}`);
});
"""


def open_tab(browser):
    """A fresh tab that records CSP violations and console errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(COLLECT_VIOLATIONS)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda msg: page.console_errors.append(msg.text)
            if msg.type == "error" else None)
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    return page


def assert_no_violations(page) -> None:
    """Nothing on the page broke the policy, and the theme's inline scripts did run."""
    page.wait_for_load_state("networkidle")
    violations = page.evaluate("window.__violations")
    assert violations == [], f"{page.url}: {violations}"
    refused = [text for text in page.console_errors if "Content Security Policy" in text]
    assert refused == [], f"{page.url}: {refused}"
    # Material's first inline script defines __md_get; the bundle needs it.
    assert page.evaluate("typeof __md_get") == "function", page.url


def assert_strict_policy(response) -> None:
    """script-src allows the site and inline scripts by hash, nothing else."""
    policy = response.headers["content-security-policy"]
    sources = re.search(r"script-src ([^;]*)", policy).group(1).split()
    assert sources[0] == "'self'"
    assert all(re.fullmatch(r"'sha256-[A-Za-z0-9+/]{43}='", source) for source in sources[1:])


@pytest.mark.parametrize("path", [*PAGES, "/zelfscan/", "/404.html", "/bestaat-niet/",
                                  "/tip-een-collega/verstuurd/", "/meedoen/verstuurd/"])
def test_page_loads_without_violations(browser, live, path):
    page = open_tab(browser)
    try:
        response = page.goto(live + path)
        assert response.status == (404 if path == "/bestaat-niet/" else 200)
        assert_strict_policy(response)
        assert_no_violations(page)
    finally:
        page.context.close()


def test_tip_preview_and_sent_page_load_without_violations(browser, live):
    page = open_tab(browser)
    try:
        page.goto(live + "/tip-een-collega/")
        page.fill("#voornaam", "Zoë")
        page.fill("#achternaam", "Jansen")
        page.fill("#collega_1", "piet@voorbeeld.nl")
        with page.expect_navigation():
            page.get_by_role("button", name="Bekijk de e-mail").click()
        assert page.locator(".mailer-preview").count() == 1
        assert_no_violations(page)
        with page.expect_navigation():
            page.get_by_role("button", name="Versturen").click()
        assert page.url.endswith("/tip-een-collega/verstuurd/")
        assert_no_violations(page)
    finally:
        page.context.close()


def test_join_form_with_errors_loads_without_violations(browser, live):
    page = open_tab(browser)
    try:
        page.goto(live + "/meedoen/")
        page.fill("#kvk", "123")
        with page.expect_navigation():
            page.locator("form button[type=submit]").last.click()
        assert page.locator(".mailer-field--error").count() > 0
        assert_no_violations(page)
    finally:
        page.context.close()


def test_search_and_navigation_still_work(browser, live):
    """Material's search (in a web worker) and its navigation run under the policy."""
    page = open_tab(browser)
    try:
        page.goto(live + "/incassobeleid/")
        result = first_search_result(page, "deurwaarder")
        assert "warm-doorverwijzen" in result.get_attribute("href")
        with page.expect_navigation():
            result.click()
        assert "/warm-doorverwijzen/" in page.url
        with page.expect_navigation():
            page.locator(".md-tabs__link", has_text="Deelnemers").click()
        assert page.url.endswith("/deelnemers/")
        assert_no_violations(page)
    finally:
        page.context.close()
