"""The built site in headless Chromium: axe-core finds nothing, and no request leaves the origin."""

from urllib.parse import urlsplit

import pytest
import yaml
from conftest import ROOT, axe_violations, describe_violations
from site_helpers import PAGES, SiteServer, build_site_with_adopters, first_search_result

pytestmark = pytest.mark.browser

WIDTHS = [390, 1280]
SCHEMES = ["light", "dark"]
LIVE_COUNT = 4242  # what the stand-in for the service answers on /api/adoptions/count


@pytest.fixture(scope="module")
def server(site_dir):
    """The built site on a local static server that also answers the count API."""
    with SiteServer(site_dir, api_count=LIVE_COUNT) as server:
        yield server


def open_page(browser, origin: str, path: str, width: int = 1280, scheme: str = "light", **ctx):
    """Open `path` and return (page, requested URLs, console errors)."""
    context = browser.new_context(
        viewport={"width": width, "height": 900}, color_scheme=scheme, **ctx
    )
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(origin + path, wait_until="networkidle")
    return page, requests, errors


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", [*PAGES, "/404.html"])
def test_page_passes_axe_and_stays_on_origin(browser, server, path, width, scheme):
    """Zero axe violations, only same-origin requests and no console errors."""
    page, requests, errors = open_page(browser, server.origin, path, width, scheme)
    try:
        violations = axe_violations(page)
        where = f"axe on {path} at {width}px ({scheme})"
        assert not violations, f"{where}:\n{describe_violations(violations)}"
        foreign = [
            url for url in requests
            if urlsplit(url).scheme not in ("data", "blob")
            and f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" != server.origin
        ]
        assert not foreign, f"{path} requested other origins: {foreign}"
        assert not errors, f"{path} logged console errors: {errors}"
    finally:
        page.context.close()


def test_home_shows_baked_count_without_javascript(browser, server, site_dir):
    """With JavaScript off, the home page still shows the number baked at build time."""
    page, requests, _ = open_page(browser, server.origin, "/", java_script_enabled=False)
    try:
        counter = page.locator("[data-adoptions-count]").first
        assert counter.is_visible()
        assert counter.inner_text() == "25"
        text = page.get_by_text("ondernemingen hebben dit sociaal incassobeleid al").first
        assert text.is_visible()
        assert not any(urlsplit(url).path == "/api/adoptions/count" for url in requests)
    finally:
        page.context.close()


@pytest.mark.parametrize("path", ["/", "/deelnemers/", "/incassobeleid/"])
def test_counter_refreshes_from_service(browser, server, path):
    """With JavaScript on, every counter shows the live number from the count API."""
    page, _, _ = open_page(browser, server.origin, path)
    try:
        counters = page.locator("[data-adoptions-count]")
        assert counters.count() >= 1
        for i in range(counters.count()):
            assert counters.nth(i).inner_text() == str(LIVE_COUNT)
    finally:
        page.context.close()


def test_counter_keeps_baked_number_when_service_is_down(browser, site_dir):
    """A static host without the service: the baked number stays and nothing is logged."""
    with SiteServer(site_dir) as plain:
        page, _, errors = open_page(browser, plain.origin, "/")
        try:
            assert page.locator("[data-adoptions-count]").first.inner_text() == "25"
        finally:
            page.context.close()
    # A 404 from the missing API shows as one network error line; scripts log nothing more.
    assert all("404" in error for error in errors), errors


@pytest.fixture(scope="module")
def adopters_server(tmp_path_factory):
    """A site with public adopters, on a plain static server without the count API."""
    site, _ = build_site_with_adopters(tmp_path_factory.mktemp("adopters"))
    with SiteServer(site, api_count=133) as server:
        yield server


@pytest.mark.parametrize("width", WIDTHS)
def test_adopters_list_passes_axe_and_filters_by_sector(browser, adopters_server, width):
    """The filled list passes axe, and choosing a sector shows only that sector's adopters."""
    page, _, errors = open_page(browser, adopters_server.origin, "/deelnemers/", width)
    try:
        violations = axe_violations(page)
        where = "axe on /deelnemers/ with adopters"
        assert not violations, f"{where}:\n{describe_violations(violations)}"
        items = page.locator("li[data-sector]")
        assert items.count() == 2
        page.get_by_label("Toon sector").select_option("Water")
        visible = page.locator("li[data-sector]:visible")
        assert visible.count() == 1
        assert "Waterbedrijf Voorbeeld" in visible.inner_text()
        words = yaml.safe_load((ROOT / "content" / "deelnemers.md").read_text(
            encoding="utf-8").split("---\n")[1])["lijst"]
        assert page.get_by_role("status").inner_text() == words["getoond_een"].replace("#", "1")
        page.get_by_label("Toon sector").select_option("")
        assert page.locator("li[data-sector]:visible").count() == 2
        assert page.get_by_role("status").inner_text() == words["getoond"].replace("#", "2")
        assert not errors
    finally:
        page.context.close()


def test_adopters_list_is_complete_without_javascript(browser, adopters_server):
    """Without JavaScript the filter stays hidden and every listed adopter shows."""
    page, _, _ = open_page(
        browser, adopters_server.origin, "/deelnemers/", java_script_enabled=False
    )
    try:
        assert page.locator("li[data-sector]:visible").count() == 2
        assert not page.get_by_label("Toon sector").is_visible()
    finally:
        page.context.close()


def test_dutch_search_finds_a_page(browser, server):
    """The Dutch site search, all local, finds warm referral by a word from its text."""
    page, requests, _ = open_page(browser, server.origin, "/incassobeleid/")
    try:
        result = first_search_result(page, "deurwaarder")
        assert "warm-doorverwijzen" in result.get_attribute("href")
        assert all(url.startswith(server.origin) for url in requests)
    finally:
        page.context.close()
