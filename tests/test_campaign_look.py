"""The site's own look and findability: icons, share cards, titles, campaign layout, wording."""

import json
import re
import struct
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from conftest import csrf_token
from site_helpers import NAV, PAGES

SHORT_PAGES = ["/contact/", "/deelnemers/", "/meedoen/", "/tip-een-collega/", "/toegankelijkheid/",
               "/zelfscan/", "/"]


def built(site: Path, url: str) -> str:
    """The raw HTML of a built page."""
    return (site / url.lstrip("/") / "index.html").read_text(encoding="utf-8")


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def meta(page: str, attribute: str, name: str) -> str | None:
    """The content of `<meta {attribute}="{name}" content="...">`."""
    match = re.search(rf'<meta {attribute}="{re.escape(name)}" content="([^"]*)"', page)
    return match.group(1) if match else None


def test_icons_and_manifest(site_dir):
    """favicon.ico, apple-touch-icon and the manifest's icons exist in the sizes they claim."""
    ico = (site_dir / "favicon.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind) == (0, 1) and count >= 2
    assert png_size((site_dir / "apple-touch-icon.png").read_bytes()) == (180, 180)
    manifest = json.loads((site_dir / "site.webmanifest").read_text(encoding="utf-8"))
    assert manifest["name"] == "Schuldeiserscoalitie" and manifest["lang"] == "nl"
    for icon in manifest["icons"]:
        data = (site_dir / icon["src"].lstrip("/")).read_bytes()
        if icon["type"] == "image/png":
            width, height = png_size(data)
            assert icon["sizes"] == f"{width}x{height}"
    home = built(site_dir, "/")
    for link in ('rel="icon" href="favicon.ico"', 'rel="apple-touch-icon"', 'rel="manifest"'):
        assert link in home


def test_wordmark_logo_is_an_svg_with_the_name(site_dir):
    """The header's logo is the wordmark: an SVG in the page holding the site's name, no font."""
    logo = re.search(r'class="md-header__button md-logo"[^>]*>\s*(<svg.*?</svg>)',
                     built(site_dir, "/"), re.S).group(1)
    assert "Schuldeiserscoalitie" in logo
    assert "@import" not in logo and "url(" not in logo and "<image" not in logo


class Fetched(HTMLParser):
    """What a browser fetches while it reads a page: style sheets, scripts, images, icons."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        """Note each address the browser would fetch for this tag while parsing."""
        attrs = dict(attrs)
        if tag == "link" and attrs.get("rel") in ("stylesheet", "icon", "preload"):
            self.found.append((attrs["rel"], attrs["href"]))
        elif tag == "script" and attrs.get("src") and attrs.get("type") != "text/plain":
            self.found.append(("script", attrs["src"]))
        elif tag == "img":
            self.found.append(("img", attrs.get("src", "")))


def test_home_paints_with_nothing_but_its_style_sheets(site_dir):
    """The home page's first paint waits for its HTML and style sheets only: the logo and the
    tab's icon are in the page, and the scripts load once it has painted (bench/site.py: LCP)."""
    parser = Fetched()
    parser.feed(built(site_dir, "/"))
    kinds = {kind for kind, href in parser.found if not href.startswith("data:")}
    assert kinds <= {"stylesheet", "icon"}, parser.found
    icons = [href for kind, href in parser.found if kind == "icon"]
    assert icons[0].startswith("data:image/svg+xml,"), icons
    assert 'data-sc-later src="assets/javascripts/counter.js"' in built(site_dir, "/")


@pytest.mark.parametrize("url", list(PAGES))
def test_every_page_has_a_share_card_and_a_canonical_url(site_dir, url):
    """Open Graph tags with title, description and the 1200x630 image; X reads the same tags."""
    page = built(site_dir, url)
    title = meta(page, "property", "og:title")
    assert title
    assert len(meta(page, "property", "og:description") or "") >= 50
    assert meta(page, "name", "twitter:card") == "summary_large_image"
    image = meta(page, "property", "og:image")
    assert urlsplit(image).scheme in ("http", "https")
    data = (site_dir / urlsplit(image).path.lstrip("/")).read_bytes()
    assert png_size(data) == (1200, 630)
    assert meta(page, "property", "og:image:width") == "1200"
    assert meta(page, "property", "og:image:height") == "630"
    canonical = re.search(r'<link rel="canonical" href="([^"]+)"', page).group(1)
    assert urlsplit(canonical).path == url
    assert meta(page, "property", "og:url") == canonical


def test_home_describes_the_organisation(site_dir):
    """The home page holds schema.org Organization data that parses as JSON."""
    page = built(site_dir, "/")
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1)
    data = json.loads(block)
    assert data["@type"] == "Organization" and data["name"] == "Schuldeiserscoalitie"


def test_robots_names_the_sitemap(site_dir):
    """robots.txt points at the sitemap with an absolute address, and the sitemap lists pages."""
    robots = (site_dir / "robots.txt").read_text(encoding="utf-8")
    sitemap = re.search(r"^Sitemap: (\S+)$", robots, re.M).group(1)
    assert urlsplit(sitemap).scheme in ("http", "https")
    assert urlsplit(sitemap).path == "/sitemap.xml"
    listed = (site_dir / "sitemap.xml").read_text(encoding="utf-8")
    for url in PAGES:
        assert f"{url}</loc>" in listed


def test_titles_are_unique(site_dir):
    """No two pages share a <title>."""
    titles = [re.search(r"<title>(.*?)</title>", built(site_dir, url)).group(1) for url in PAGES]
    assert len(set(titles)) == len(titles), titles


@pytest.mark.parametrize("url", list(PAGES))
def test_campaign_layout(site_dir, url):
    """No Vorige/Volgende bar; no table of contents on short pages; six tabs at most."""
    page = built(site_dir, url)
    assert "md-footer__link" not in page
    tabs = re.search(r'<nav class="md-tabs".*?</nav>', page, re.S).group(0)
    assert tabs.count('class="md-tabs__item') == len(NAV) <= 6
    footer = re.search(r'<footer class="md-footer">.*?</footer>', page, re.S).group(0)
    for name in ("Tip een collega", "Contact", "Privacy", "Toegankelijkheid"):
        assert f">{name}</a>" in footer
    if url in SHORT_PAGES:
        assert re.search(r'data-md-type="toc" hidden', page), f"{url} shows a table of contents"


def test_search_speaks_of_results(site_dir):
    """The search's words are Dutch for visitors: resultaten, not documenten."""
    page = built(site_dir, "/")
    config = json.loads(re.search(r'<script id="__config" type="application/json">(.*?)</script>',
                                  page, re.S).group(1))
    words = " ".join(config["translations"].values()).lower()
    assert "document" not in words
    assert config["translations"]["search.result.other"] == "# resultaten"


def test_tip_page_shows_the_mail_as_a_mail(site_dir):
    """The example has a sender, subject and body, with the parts the sender fills in marked."""
    page = built(site_dir, "/tip-een-collega/")
    mail = re.search(r'<div[^>]*class="sc-mail".*?</div>\s*</div>', page, re.S).group(0)
    assert "<dt>Van</dt>" in mail and "<dt>Onderwerp</dt>" in mail
    assert "<mark>uw voornaam en achternaam</mark>" in mail
    assert "Je collega" in mail and "<blockquote" not in mail


WORDING = {
    # one word for one thing in the site's own text
    r"\bjouw\b|\bjij\b": "u",
    r"startpagina": "home",
    r"\bHMAC\b|/64\b": "gewone woorden",
}
# Quoted from the client's documents, where "je" stays as written.
QUOTED = ("Begrijp voordat je begrepen wordt", "Zeg wat je doet en doe wat je zegt",
          "Behandel de klant zoals je zelf behandeld wilt worden",
          "Schulden wil je niet, die krijg je", "voorkom je dat", "Je collega",
          "wil je graag op de hoogte")


@pytest.mark.parametrize("url", list(PAGES))
def test_wording(site_dir, url):
    """'u', not 'je', in the site's own text; no technical terms; one word for home."""
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", " ", built(site_dir, url),
                                          flags=re.S))
    for quote in QUOTED:
        text = text.replace(quote, "")
    for pattern, instead in WORDING.items():
        assert not re.search(pattern, text, re.I), f"{url}: {pattern} (gebruik {instead})"
    assert not re.search(r"\bje\b", text, re.I), f"{url}: 'je' in de eigen tekst"


# -- in the browser -------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("width", [320, 390, 1280])
def test_tap_targets_are_at_least_24_pixels(browser, live, width):
    """Buttons, tabs and footer links are at least 24 by 24 CSS pixels (WCAG 2.2, 2.5.8)."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        for url in ("/", "/tip-een-collega/"):
            page.goto(live + url)
            small = page.evaluate("""() => [...document.querySelectorAll(
                '.md-footer a, .md-tabs a, .md-header a, .md-header label, .md-button, button')]
                .filter(el => el.offsetParent !== null && getComputedStyle(el).opacity !== '0'
                              && getComputedStyle(el).visibility !== 'hidden')
                .map(el => [el.textContent.trim() || el.getAttribute('aria-label'),
                            el.getBoundingClientRect()])
                .filter(([, box]) => box.width < 24 || box.height < 24)
                .map(([name, box]) => `${name}: ${box.width}x${box.height}`)""")
            assert not small, f"{url} at {width}px: {small}"
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.parametrize("url", ["/", "/meedoen/verstuurd/"])
def test_scripts_load_after_the_first_paint(browser, live, url):
    """The waiting scripts load once the page has painted, also on a dynamic page one level
    deeper than its built page, and none of them is missing."""
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    try:
        page.goto(live + url, wait_until="networkidle")
        loaded = page.evaluate("""() => [...document.scripts].filter(s => s.src && !s.type)
                                   .map(s => new URL(s.src).pathname)""")
        assert "/assets/javascripts/counter.js" in loaded
        assert "/assets/javascripts/material.js" in loaded
        assert page.evaluate("document.documentElement.classList.contains('sc-waiting')")
        assert failed == []
    finally:
        context.close()


@pytest.mark.browser
def test_tip_preview_fits_a_320_pixel_phone(browser, live):
    """The preview of a tip, with long addresses, needs no sideways scrolling at 320 pixels."""
    context = browser.new_context(viewport={"width": 320, "height": 700})
    page = context.new_page()
    try:
        page.goto(live + "/tip-een-collega/")
        page.get_by_label("Uw voornaam").fill("Annemarie-Josephine")
        page.get_by_label("Uw achternaam").fill("van den Hoogenband-Oosterhuis")
        page.get_by_label("E-mailadres collega 1").fill(
            "debiteurenbeheer.afdeling-noord@woningcorporatie-voorbeeldstad.example")
        page.get_by_role("button", name="Bekijk de e-mail").click()
        page.get_by_role("button", name="Versturen").wait_for()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{overflow}px sideways scroll"
    finally:
        context.close()


def test_form_pages_have_a_fallback_only_the_form_hides(client):
    """The 'no form?' note sits right after the form, where the form's CSS hides it."""
    for url in ("/tip-een-collega/", "/meedoen/", "/zelfscan/"):
        page = client.get(url).get_data(as_text=True)
        csrf_token(page)  # the service put its form in
        assert re.search(r'</form>\s*<p class="sc-form-fallback">', page), url


def test_sectors_cover_the_creditors_of_households():
    """Banks to bailiffs, each once, codes that existed kept, and 'Overig' last."""
    from mailer.adoptions.forms import SECTORS

    for code in ("energie", "water", "telecom", "wonen", "verzekeraar", "incasso", "overig"):
        assert code in SECTORS  # stored in existing registrations
    labels = " ".join(SECTORS.values()).lower()
    for word in ("bank", "krediet", "verzeker", "energie", "water", "telecom", "woningcorporatie",
                 "zorg", "webwinkel", "gemeente", "overheid", "incasso", "deurwaarder"):
        assert word in labels, word
    assert list(SECTORS)[-1] == "overig"
    assert all(len(code) <= 40 and code.isascii() for code in SECTORS)


def front_matter(name: str) -> dict:
    """The front matter of a page in content/."""
    text = (Path(__file__).resolve().parent.parent / "content" / name).read_text(encoding="utf-8")
    return yaml.safe_load(text.split("---\n")[1])


def test_staff_words_come_from_the_pages_front_matter(site_dir):
    """Headline, intro, buttons, counter sentence and list words are those in content/."""
    home, adopters = front_matter("index.md"), front_matter("deelnemers.md")
    page = built(site_dir, "/")
    assert f'<h1 id="sc-hero-title">{home["kop"]["titel"]}</h1>' in page
    assert " ".join(home["kop"]["intro"].split()) in " ".join(page.split())
    hero = re.search(r'<section class="sc-hero".*?</section>', page, re.S).group(0)
    for button in home["kop"]["knoppen"]:
        assert f'>{button["tekst"]}</a>' in hero
    assert f'<span class="sc-counter__text">{home["teller"]}</span>' in page
    listing = built(site_dir, "/deelnemers/")
    assert f'<h2 id="lijst">{adopters["lijst"]["kop"]}</h2>' in listing
    calls = re.findall(r'<aside class="sc-cta.*?</aside>', listing, re.S)
    assert any(f'>{home["oproepen"]["tip"]["knop"]}</a>' in call for call in calls)
    not_found = (site_dir / "404.html").read_text(encoding="utf-8")
    assert f"<h1>{home['niet_gevonden']['titel']}</h1>" in not_found


def test_footer_calls_and_list_status_words_come_from_content(site_dir, adopters_site):
    """The footer's links, the names of the calls to action and the list's status sentences are
    those in the front matter of content/index.md and content/deelnemers.md."""
    home, adopters = front_matter("index.md"), front_matter("deelnemers.md")
    page = built(site_dir, "/incassobeleid/")
    footer = re.search(r'<nav class="sc-footer-links"[^>]*>.*?</nav>', page, re.S).group(0)
    assert f'aria-label="{home["voettekst"]["naam"]}"' in footer
    for link in home["voettekst"]["links"]:
        assert f'<a href="../{link["link"]}">{link["tekst"]}</a>' in footer
    for kind in ("meedoen", "tip"):
        assert re.search(rf'<aside class="sc-cta[^"]*" aria-label="'
                         rf'{re.escape(home["oproepen"][kind]["naam"])}">', page), kind
    words = adopters["lijst"]
    listing = built(adopters_site, "/deelnemers/")
    status = re.search(r'<p class="sc-filter__status"[^>]*>', listing).group(0)
    assert f'data-one="{words["getoond_een"]}"' in status
    assert f'data-other="{words["getoond"]}"' in status and "#" in words["getoond"]


@pytest.fixture(scope="module")
def adopters_site(tmp_path_factory) -> Path:
    """The site built with two listed adopters, so /deelnemers/ has its filter."""
    from site_helpers import build_site_with_adopters

    site, _ = build_site_with_adopters(tmp_path_factory.mktemp("look-adopters"))
    return site


@pytest.mark.parametrize("address", ["", "vragen@voorbeeld.nl"])
def test_contact_box_words_come_from_the_contact_page(tmp_path, address):
    """Contact's box about data and the site: its words from content/contact.md, with the
    coalition's address (MAILER_CONTACT_EMAIL) as a mail link where the words say {adres}."""
    from conftest import build_site

    words = front_matter("contact.md")["vragen"]
    data = tmp_path / "site-data.yml"
    data.write_text(yaml.safe_dump({"extra": {"adoptions": {"count": 25, "adopters": []},
                                              "contact_email": address}}), encoding="utf-8")
    page = " ".join(built(build_site(tmp_path / "site", "", data), "/contact/").split())
    assert f'<h2 id="vragen-over-deze-website">{words["kop"]}</h2>' in page
    assert " ".join(words["tekst"].split()) in page
    if address:
        link = f'<a href="mailto:{address}">{address}</a>'
        assert " ".join(words["mail"].split()).replace("{adres}", link) in page
        assert " ".join(words["zonder_adres"].split()) not in page
    else:
        assert " ".join(words["zonder_adres"].split()) in page
        assert "mailto:" not in page.split('id="vragen-over-deze-website"')[1]


# Attributes whose value a visitor hears or sees.
VISITOR_ATTRIBUTES = ("aria-label", "title", "alt", "placeholder")


def own_text(template: str) -> list[str]:
    """The words a template writes itself: text and spoken attributes, with Jinja taken out."""
    source = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", "", template, flags=re.S)
    source = re.sub(r"<(script|style)\b.*?</\1>", "", source, flags=re.S)
    texts = re.findall(r">([^<]+)<", source)
    texts += re.findall(rf'\s(?:{"|".join(VISITOR_ATTRIBUTES)})="([^"]*)"', source)
    return [text.strip() for text in texts if re.search(r"[^\W\d_]", text)]


def script_sentences(script: str) -> list[str]:
    """String literals in a script that read as words for a visitor, not as code or selectors."""
    script = re.sub(r"/\*.*?\*/|^\s*//.*$", "", script, flags=re.S | re.M)
    literals = re.findall(r'"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'', script)
    strings = [double or single for double, single in literals]
    return [text for text in strings if text != "use strict" and re.search(r"\s", text)
            and re.search(r"[^\W\d_]{2,}", text) and not re.search(r"[\[\].#=:]", text)]


def test_templates_and_scripts_hold_no_visitor_text():
    """Every word a visitor reads comes from content/, so staff edit it like any page. (The
    search's own words are Material's language file, partials/languages/custom.html.)"""
    root = Path(__file__).resolve().parent.parent
    found = {}
    for template in sorted((root / "templates").rglob("*.html")):
        text = own_text(template.read_text(encoding="utf-8"))
        if text:
            found[template.relative_to(root).as_posix()] = text
    for script in sorted((root / "content" / "assets" / "javascripts").glob("*.js")):
        text = script_sentences(script.read_text(encoding="utf-8"))
        if text:
            found[script.relative_to(root).as_posix()] = text
    assert not found, found
