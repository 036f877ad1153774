"""The static site: strict build, navigation, internal links, the facts, and the baked counter."""

import html
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from mkdocs.utils.yaml import yaml_load
from site_helpers import (
    NAV,
    PAGES,
    PRINCIPLES,
    ROOT,
    build_site_with_adopters,
    snapshot_of,
)


class LinkParser(HTMLParser):
    """Collect every href/src, every id, and the text of one HTML page."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        """Record links and ids; skip the text of scripts and styles."""
        attrs = dict(attrs)
        for name in ("href", "src"):
            if attrs.get(name):
                self.links.append(attrs[name])
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        """Leave a script or style."""
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        """Keep visible text."""
        if not self._skip:
            self.text.append(data)


def parse(path: Path) -> LinkParser:
    """Parse one built HTML file."""
    parser = LinkParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def page_file(site: Path, url: str) -> Path:
    """The built file for a site URL like `/warm-doorverwijzen/`."""
    return site / url.lstrip("/") / "index.html"


def page_text(site: Path, url: str) -> str:
    """The visible text of a built page, whitespace collapsed."""
    return re.sub(r"\s+", " ", html.unescape("".join(parse(page_file(site, url)).text)))


def baked_counts(site: Path, url: str) -> list[str]:
    """The numbers in every `data-adoptions-count` element of a built page, from the raw HTML."""
    raw = page_file(site, url).read_text(encoding="utf-8")
    return re.findall(r"<[^>]*\bdata-adoptions-count\b[^>]*>\s*([^<]*?)\s*<", raw)


def test_top_navigation_has_at_most_six_items():
    """mkdocs.yml names the campaign's main pages, at most six; the rest are in the footer."""
    with open(ROOT / "mkdocs.yml", encoding="utf-8") as file:
        config = yaml_load(file)  # MkDocs' own loader understands !ENV
    files = [next(iter(item.values())) for item in config["nav"]]
    assert files == list(NAV.values())
    assert len(files) <= 6


def tabs_and_footer(path: Path) -> tuple[list[str], list[str]]:
    """The link targets in a built page's tabs and in its footer."""
    raw = path.read_text(encoding="utf-8")
    tabs = re.search(r'<nav class="md-tabs".*?</nav>', raw, re.S).group(0)
    footer = re.search(r'<footer class="md-footer">.*?</footer>', raw, re.S).group(0)
    return re.findall(r'href="([^"]+)"', tabs), re.findall(r'href="([^"]+)"', footer)


@pytest.mark.parametrize("url", list(PAGES))
def test_every_page_is_built_and_reachable_from_every_page(site_dir, url):
    """Each page exists; the tabs link to the main pages and the footer to the others."""
    assert page_file(site_dir, url).is_file()
    for path in sorted(site_dir.rglob("index.html")):
        tabs, footer = tabs_and_footer(path)
        where = tabs if url in NAV else footer
        targets = {urlsplit(urljoin("/" + str(path.parent.relative_to(site_dir)) + "/", link)).path
                   for link in where}
        assert url in {t.replace("/./", "/") for t in targets} or url == "/" and "/" in targets, (
            f"{url} not linked from {path.relative_to(site_dir)}")


def test_internal_links_resolve(site_dir):
    """Every internal href/src of every built page points at a built file (and anchor)."""
    broken = []
    pages = sorted(site_dir.rglob("*.html"))
    ids = {path: parse(path).ids for path in pages}
    for path in pages:
        for link in parse(path).links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "tel:", "data:")):
                continue
            if parts.path.startswith("/"):  # the 404 page links from the site root
                target = (site_dir / unquote(parts.path).lstrip("/")).resolve()
            elif parts.path:
                target = (path.parent / unquote(parts.path)).resolve()
            else:
                target = path
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{path.relative_to(site_dir)}: {link}")
            elif parts.fragment and target.suffix == ".html":
                if target in ids and parts.fragment not in ids[target]:
                    broken.append(f"{path.relative_to(site_dir)}: {link} (no such anchor)")
    assert not broken, "\n".join(broken)


def test_absolute_links_only_leave_as_plain_links(site_dir):
    """No page loads anything from another origin: no external src, stylesheet or preconnect."""
    offenders = []
    for path in site_dir.rglob("*.html"):
        raw = path.read_text(encoding="utf-8")
        offenders += re.findall(r'\bsrc="(?:https?:)?//[^"]*"', raw)
        offenders += re.findall(r'<link[^>]+href="(?:https?:)?//(?!127\.0\.0\.1:8000/)[^"]*"', raw)
    for path in site_dir.rglob("*.css"):
        offenders += re.findall(r"@import|url\((?:['\"])?(?:https?:)?//", path.read_text("utf-8"))
    assert not offenders


@pytest.mark.parametrize("url", list(PAGES))
def test_every_page_has_language_title_and_description(site_dir, url):
    """Dutch, a title and a meta description on each page (search engines and screen readers)."""
    raw = page_file(site_dir, url).read_text(encoding="utf-8")
    assert '<html lang="nl"' in raw
    assert re.search(r"<title>[^<]+</title>", raw)
    assert re.search(r'<meta name="description" content="[^"]{50,}">', raw)


# The facts that must stay, from the client's documents. Tests check these, not the wording around
# them: rewriting a sentence passes, dropping a principle or a step fails.
PULL_QUOTES = [
    "Ga niet halen bij wie écht niet kan betalen",
    "Beter voorkomen dan genezen",
    "Elk individu is uniek",
    "Schulden wil je niet, die krijg je",
]
# One thing each of the six steps must say, in this order.
STEPS = ["1 maand", "financiële hulpverlener", "3 dagen", "schulden", "herhaling",
         "goed betalende klant"]
COUNTER_SENTENCE = "ondernemingen hebben dit sociaal incassobeleid al geïmplementeerd"
FACTS = (
    [("/", "Maak onderscheid tussen notoire wanbetalers en mensen met probleemschulden")]
    + [("/incassobeleid/", quote) for quote in PULL_QUOTES]
    + [("/warm-doorverwijzen/", fact) for fact in (
        "Inge Hillekens", "gemeente Weert", "Dennie Carati", "Waterleidingbedrijf Midden Limburg",
        "Thijs Bierens", "Evides", "1,2 miljoen", "vroegsignalering", "Schuldenknooppunt",
        "Klaas van der Vies", "NVVK", "k.vandervies@nvvk.nl", "06-13105941")]
    + [("/contact/", fact)
       for fact in ("Klaas van der Vies", "k.vandervies@nvvk.nl", "06-13105941")]
    + [
        ("/privacy/", "48 uur"),
        ("/privacy/", "30 dagen"),
        ("/toegankelijkheid/", "WCAG"),
    ]
)


def squash(text: str) -> str:
    """Lower case, single spaces: a fact matches however the line is wrapped or capitalised."""
    return re.sub(r"\s+", " ", text).strip().lower()


@pytest.mark.parametrize(("url", "phrase"), FACTS)
def test_fact_is_on_its_page(site_dir, url, phrase):
    """Each fact from the client's documents is on the page where visitors look for it."""
    assert squash(phrase) in squash(page_text(site_dir, url))


def test_the_ten_principles_in_order(site_dir):
    """The policy page has ten numbered principles, in the source's order, each explained."""
    raw = page_file(site_dir, "/incassobeleid/").read_text(encoding="utf-8")
    headings = re.findall(r'<h3 id="[^"]*">(.*?)</h3>\s*<p>(.*?)</p>', raw, re.S)
    numbered = [(html.unescape(title), text) for title, text in headings
                if re.match(r"\d+\. ", title)]
    assert [squash(title) for title, _ in numbered] == [
        squash(f"{n}. {name}") for n, name in enumerate(PRINCIPLES, start=1)]
    assert all(len(text.split()) >= 10 for _, text in numbered)


def test_the_six_steps_in_order(site_dir):
    """Warm referral has one ordered list of exactly six steps, in the brochure's order."""
    raw = page_file(site_dir, "/warm-doorverwijzen/").read_text(encoding="utf-8")
    lists = re.findall(r"<ol>(.*?)</ol>", raw, re.S)
    steps = [re.findall(r"<li>(.*?)</li>", items, re.S) for items in lists]
    six = [items for items in steps if len(items) == 6]
    assert len(six) == 1, [len(items) for items in steps]
    for item, fact in zip(six[0], STEPS, strict=True):
        assert squash(fact) in squash(html.unescape(item))


@pytest.mark.parametrize("url", ["/warm-doorverwijzen/", "/contact/"])
def test_nvvk_contact_links_work(site_dir, url):
    """The project leader's e-mail and phone are links that open mail and the dialler."""
    links = parse(page_file(site_dir, url)).links
    assert "mailto:k.vandervies@nvvk.nl" in links
    assert "tel:+31613105941" in links


@pytest.mark.parametrize("url", ["/tip-een-collega/", "/meedoen/"])
def test_form_pages_hold_the_marker_on_its_own_line(site_dir, url):
    """The service puts its form where the page holds `<!-- mailer:form -->`, once."""
    lines = page_file(site_dir, url).read_text(encoding="utf-8").splitlines()
    assert [line.strip() for line in lines].count("<!-- mailer:form -->") == 1


def test_home_counter_shows_a_fresh_registry_count(site_dir):
    """A fresh registry counts the seed's 25, and the home page says so beside its sentence."""
    expected = snapshot_of(f"sqlite:///{site_dir.parent / 'build.sqlite'}")["count"]
    assert expected == 25
    assert baked_counts(site_dir, "/") == [str(expected)]
    assert f"{expected} {COUNTER_SENTENCE}" in page_text(site_dir, "/")


def test_adopters_page_without_adopters_says_so(site_dir):
    """A fresh install has no public adopters yet: the page says so and shows the counter."""
    assert baked_counts(site_dir, "/deelnemers/") == ["25"]
    assert "Er staan nog geen ondernemingen op de openbare lijst" in page_text(
        site_dir, "/deelnemers/"
    )


@pytest.fixture(scope="module")
def site_with_adopters(tmp_path_factory):
    """A site built from a registry with 130 earlier adopters and four registrations."""
    return build_site_with_adopters(tmp_path_factory.mktemp("adopters"))


@pytest.mark.parametrize("url", ["/", "/deelnemers/", "/incassobeleid/"])
def test_a_different_registry_bakes_a_different_count(site_with_adopters, url):
    """130 earlier adopters plus 3 approved registrations: every counter says 133."""
    site, snapshot = site_with_adopters
    assert snapshot["count"] == 133
    assert set(baked_counts(site, url)) == {"133"}


def test_adopters_page_lists_only_approved_and_consenting(site_with_adopters):
    """The public list shows approved adopters that agreed to be listed, with a sector filter."""
    site, _ = site_with_adopters
    text = page_text(site, "/deelnemers/")
    raw = page_file(site, "/deelnemers/").read_text(encoding="utf-8")
    assert "Waterbedrijf Voorbeeld" in text and "Energie Voorbeeld" in text
    assert "Stille Woningcorporatie" not in text and "Nog Niet Bevestigd" not in text
    assert 'id="waterbedrijf-voorbeeld"' in raw  # the badge links to this anchor
    assert re.findall(r'<option value="([^"]*)">', raw) == ["", "Energie", "Water"]
    assert "nog geen ondernemingen" not in text


def test_the_build_needs_no_hook_and_no_plugin_zensical_lacks():
    """Zensical runs no hook and ignores plugins it does not know: the site needs neither."""
    with open(ROOT / "mkdocs.yml", encoding="utf-8") as file:
        config = yaml_load(file)
    plugins = [next(iter(p)) if isinstance(p, dict) else p for p in config.get("plugins", [])]
    assert set(plugins) <= {"search"}
    assert "hooks" not in config  # Zensical runs none: data comes from MAILER_SITE_DATA


def test_a_data_file_decides_the_count_not_the_database(site_dir, tmp_path):
    """With MAILER_SITE_DATA the build takes count and list from that file alone, as Zensical
    (which runs no hook) does; the database here says 25."""
    from site_helpers import build_site_from_data

    uri = f"sqlite:///{site_dir.parent / 'build.sqlite'}"
    adopter = {"name": "Uit Het Bestand BV", "sector": "Water", "website": None,
               "slug": "uit-het-bestand", "date": None}
    site = build_site_from_data(tmp_path, uri, {"count": 4242, "updated": None,
                                                "adopters": [adopter]})
    assert baked_counts(site, "/") == ["4242"]
    assert "Uit Het Bestand BV" in page_text(site, "/deelnemers/")


def test_the_default_data_is_the_source_count():
    """Without the service's data the site shows the source's 25 and no list."""
    data = yaml_load((ROOT / "content" / "deelnemers.yml").read_text(encoding="utf-8"))
    assert data["extra"]["adoptions"]["count"] == 25
    assert data["extra"]["adoptions"]["adopters"] == []
