"""Hostile values in the registry reach the built /deelnemers/ page as text, never as markup.

MkDocs renders theme templates without autoescaping, so the templates escape every value
themselves. Each registration below tries one way in: a script in a name, a closed attribute, a
`javascript:` website, an event handler in a sector or an anchor.
"""

import html
from html.parser import HTMLParser

import pytest
from site_helpers import SiteServer, build_site_with_registrations

HOSTILE = [
    {"company_name": "<script>window.__xss = 1</script>Schrift BV", "sector": "energie",
     "website": None, "slug": "schrift"},
    {"company_name": '"><img src=x onerror="window.__xss = 2">Beeld BV', "sector": "water",
     "website": "https://beeld.example", "slug": "beeld"},
    {"company_name": "Javascript BV", "sector": "telecom",
     "website": "javascript:window.__xss = 3", "slug": "javascript"},
    {"company_name": "Spatie BV", "sector": "telecom",
     "website": "  JavaScript:window.__xss = 3", "slug": "spatie"},
    {"company_name": "Aanhalingsteken BV", "sector": "wonen",
     "website": 'https://ok.example/"><img src=x onerror=window.__xss=4>', "slug": "aanhaling"},
    {"company_name": "Muis BV", "sector": "overig",
     "website": 'https://ok.example/" onmouseover="window.__xss = 5', "slug": "muis"},
    {"company_name": "Sector BV", "sector": '</option><script>window.__xss = 6</script>',
     "website": None, "slug": "sector"},
    {"company_name": "Anker BV", "sector": 'x" autofocus onfocus="window.__xss = 7',
     "website": None, "slug": 'anker" tabindex="0" autofocus onfocus="window.__xss = 8'},
    {"company_name": "{{ 7 * 7 }} BV & Zn.", "sector": "incasso", "website": None,
     "slug": "sjabloon"},
]


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    """A site built from a registry whose listed adopters carry the hostile values."""
    rows = [{**row, "kvk": f"2000000{number}", "status": "approved", "list_publicly": True}
            for number, row in enumerate(HOSTILE)]
    site, _ = build_site_with_registrations(tmp_path_factory.mktemp("hostile"), rows)
    return site


class Tags(HTMLParser):
    """Every start tag of a page with its attributes, as a browser's parser would see them."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag, attrs):
        """Keep the tag."""
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        """Keep the text of scripts."""
        if self.tags and self.tags[-1][0] == "script":
            self.scripts.append(data)


def test_built_page_holds_the_values_as_text(hostile_site):
    """Parsed, the page has no tag, handler or link made from a value; the text shows as typed."""
    raw = (hostile_site / "deelnemers" / "index.html").read_text(encoding="utf-8")
    parser = Tags()
    parser.feed(raw)
    assert not [attrs for tag, attrs in parser.tags if tag == "img" and attrs.get("src") == "x"]
    assert not [script for script in parser.scripts if "__xss" in script]
    names = {name for _, attrs in parser.tags for name in attrs}
    assert not {name for name in names if name.startswith("on") or name == "autofocus"}
    hrefs = [attrs["href"] for tag, attrs in parser.tags if tag == "a" and "href" in attrs]
    assert not [href for href in hrefs if href.strip().lower().startswith("javascript:")]
    text = html.unescape(raw)
    for row in HOSTILE:
        assert row["company_name"] in text


@pytest.mark.browser
def test_no_script_runs_and_no_attribute_is_injected(browser, hostile_site):
    """In Chromium: nothing ran, every name shows literally, links are http(s) only."""
    with SiteServer(hostile_site) as server:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        try:
            page.goto(server.origin + "/deelnemers/", wait_until="networkidle")
            for item in page.locator("li[data-sector]").all():
                item.hover()
                item.focus()
            page.keyboard.press("Tab")
            assert page.evaluate("window.__xss") is None
            assert not dialogs
            listing = page.locator("[data-sc-adopters]")
            assert listing.locator("script, img").count() == 0
            handlers = page.evaluate("""() => [...document.querySelectorAll(
                '[data-sc-adopters] *, #sc-sector, #sc-sector *')].flatMap(
                el => el.getAttributeNames().filter(name => name.startsWith('on')
                                                    || name === 'autofocus'))""")
            assert handlers == []
            hrefs = [link.get_attribute("href") for link in listing.locator("a").all()]
            assert hrefs and all(href.startswith("https://") for href in hrefs), hrefs
            text = listing.inner_text()
            for row in HOSTILE:
                assert row["company_name"] in text
            sectors = page.locator("#sc-sector option").all_inner_texts()
            assert '</option><script>window.__xss = 6</script>' in sectors
            ids = page.evaluate(
                "() => [...document.querySelectorAll('[data-sc-adopters] li')].map(li => li.id)")
            assert 'anker" tabindex="0" autofocus onfocus="window.__xss = 8' in ids
        finally:
            context.close()
