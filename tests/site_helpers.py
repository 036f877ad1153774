"""Helpers for the site tests and the site benchmark: a local static server and page lists."""

import gzip
import json
import threading
from datetime import datetime
from functools import partial
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
API_PATH = "/api/adoptions/count"

# The pages in the top navigation, by URL, with the Markdown file each comes from.
NAV = {
    "/": "index.md",
    "/incassobeleid/": "incassobeleid.md",
    "/zelfscan/": "zelfscan.md",
    "/warm-doorverwijzen/": "warm-doorverwijzen.md",
    "/deelnemers/": "deelnemers.md",
    "/meedoen/": "meedoen.md",
}
# The pages linked from the footer of every page.
FOOTER = {
    "/tip-een-collega/": "tip-een-collega.md",
    "/contact/": "contact.md",
    "/privacy/": "privacy.md",
    "/toegankelijkheid/": "toegankelijkheid.md",
}
# Every page of the site.
PAGES = {**NAV, **FOOTER}

COMPRESSIBLE = (".html", ".css", ".js", ".json", ".svg", ".txt", ".xml")


class _Handler(SimpleHTTPRequestHandler):
    """Serve files from the site folder; optionally answer the count API and gzip text."""

    api_count: int | None = None
    compress = False
    protocol_version = "HTTP/1.1"  # keep-alive, as nginx or any real host serves it

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        """Keep test output quiet."""

    def do_GET(self):
        """Answer the count API like the service would, else serve a file."""
        if self.api_count is not None and self.path.split("?")[0] == API_PATH:
            self._send(200, "application/json", json.dumps({"count": self.api_count}).encode())
            return
        if self.compress and "gzip" in self.headers.get("Accept-Encoding", ""):
            path = Path(self.translate_path(self.path))
            if path.is_dir():
                path = path / "index.html"
            if path.is_file() and path.suffix in COMPRESSIBLE:
                ctype = self.guess_type(str(path))
                self._send(200, ctype, gzip.compress(path.read_bytes()), encoding="gzip")
                return
        super().do_GET()

    def _send(self, status: int, ctype: str, body: bytes, encoding: str | None = None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        if encoding:
            self.send_header("Content-Encoding", encoding)
            self.send_header("Vary", "Accept-Encoding")
        self.end_headers()
        self.wfile.write(body)


class SiteServer:
    """A static HTTP server for a built site on 127.0.0.1, in a background thread."""

    def __init__(self, directory: Path, api_count: int | None = None, compress: bool = False):
        handler = type("Handler", (_Handler,), {"api_count": api_count, "compress": compress})
        self.httpd = ThreadingHTTPServer(
            ("127.0.0.1", 0), partial(handler, directory=str(directory))
        )
        self.port = self.httpd.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "SiteServer":
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def snapshot_of(database_uri: str) -> dict:
    """The registry's count and public list from this database, as the site shows them."""
    from mailer import create_app
    from mailer.adoptions.registry import snapshot

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_uri, "SECRET_KEY": "test"})
    with app.app_context():
        return snapshot()


# name, KvK, sector, agreed to be listed, status
REGISTRATIONS = [
    ("Waterbedrijf Voorbeeld", "10000001", "Water", True, "approved"),
    ("Energie Voorbeeld", "10000002", "Energie", True, "approved"),
    ("Stille Woningcorporatie", "10000003", "Wonen", False, "approved"),
    ("Nog Niet Bevestigd", "10000004", "Telecom", True, "unconfirmed"),
]


def build_site_with_adopters(base: Path) -> tuple[Path, dict]:
    """Build the site from a registry with 130 earlier adopters and REGISTRATIONS.

    Returns the built folder and the registry's snapshot (count 133: 130 plus 3 approved).
    """
    rows = [
        {"company_name": name, "kvk": kvk, "sector": sector, "website": f"https://{kvk}.example",
         "list_publicly": listed, "status": status, "slug": name.lower().replace(" ", "-")}
        for name, kvk, sector, listed, status in REGISTRATIONS
    ]
    return build_site_with_registrations(base, rows, before_registry=130)


def build_site_with_registrations(base: Path, rows: list[dict],
                                  before_registry: int = 0) -> tuple[Path, dict]:
    """Build the site from a fresh registry holding `rows` (Registration fields, written as given).

    Approved rows get a decision time. Returns the built folder and the registry's snapshot.
    """
    from conftest import migrated_database

    from mailer import create_app
    from mailer.adoptions.registry import set_adopters_before_registry
    from mailer.extensions import db
    from mailer.models import Registration

    uri = migrated_database(base / "build.sqlite")
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "test"})
    with app.app_context():
        set_adopters_before_registry(before_registry)
        for row in rows:
            db.session.add(Registration(**{
                "contact_name": "Contact", "contact_email": f"c{row['kvk']}@example.org",
                "adopted_policy": True,
                "decided_at": (datetime(2026, 11, 20, 12, 0) if row["status"] == "approved"
                               else None),
                **row,
            }))
        db.session.commit()
    snapshot = snapshot_of(uri)
    return build_site_from_data(base, uri, snapshot), snapshot


def write_snapshot(path: Path, snapshot: dict) -> Path:
    """Write the data a build reads (mkdocs.yml INHERITs it): the count and the public list."""
    path.write_text(yaml.safe_dump({"extra": {"adoptions": snapshot}}, allow_unicode=True),
                    encoding="utf-8")
    return path


def build_site_from_data(base: Path, database_uri: str, snapshot: dict) -> Path:
    """Build the site into `base/site` from `snapshot`, as a build with MAILER_SITE_DATA does."""
    from conftest import build_site

    return build_site(base / "site", database_uri, write_snapshot(base / "site-data.yml", snapshot))


class _PageText(HTMLParser):
    """The title and the visible text of a page's article, the part a reader compares."""

    def __init__(self):
        super().__init__()
        self.title: list[str] = []
        self.text: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs):
        """Follow the title, the article, and scripts and styles to skip."""
        if tag in ("title", "script", "style") or (tag == "article"):
            self._in.append(tag)

    def handle_endtag(self, tag):
        """Leave an element we followed."""
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data):
        """Keep title and article text."""
        if "title" in self._in:
            self.title.append(data)
        elif "article" in self._in and "script" not in self._in and "style" not in self._in:
            self.text.append(data)


def page_summary(path: Path) -> tuple[str, str]:
    """A page's title and article text, whitespace collapsed."""
    parser = _PageText()
    parser.feed(path.read_text(encoding="utf-8"))
    return " ".join("".join(parser.title).split()), " ".join(" ".join(parser.text).split())


def compare_builds(first: Path, second: Path) -> list[str]:
    """The pages that are missing from one build or whose title or text differs, one line each."""
    pages = {path.relative_to(first) for path in first.rglob("*.html")}
    pages |= {path.relative_to(second) for path in second.rglob("*.html")}
    lines = []
    for page in sorted(pages):
        if not (first / page).is_file() or not (second / page).is_file():
            where = first if not (first / page).is_file() else second
            lines.append(f"{page}: ontbreekt in {where}")
            continue
        (title_a, text_a) = page_summary(first / page)
        (title_b, text_b) = page_summary(second / page)
        if title_a != title_b:
            lines.append(f"{page}: titel {title_a!r} / {title_b!r}")
        if text_a != text_b:
            at = next((i for i, (a, b) in enumerate(zip(text_a, text_b, strict=False)) if a != b),
                      min(len(text_a), len(text_b)))
            lines.append(f"{page}: tekst wijkt af vanaf …{text_a[max(0, at - 30):at + 30]!r} / "
                         f"…{text_b[max(0, at - 30):at + 30]!r}")
    return lines


def first_search_result(page, word: str):
    """Type `word` into Material's search box on `page`; the first result's link, once shown."""
    box = page.get_by_role("textbox", name="Zoeken")
    box.click()
    box.press_sequentially(word, delay=20)
    result = page.locator(".md-search-result__item a").first
    result.wait_for(timeout=10_000)
    return result


# The ten principles of the seed, in order: facts that must stay on the site.
PRINCIPLES = [
    "Respect voor het individu",
    "Begrijp voordat je begrepen wordt",
    "Houd rekening met onmacht",
    "Informeer op individueel niveau",
    "Zeg wat je doet en doe wat je zegt",
    "Voorkom problemen",
    "Bied een helpende hand",
    "Behandel iedereen eerlijk",
    "Wees sociaal en rechtvaardig",
    "Processen ondersteunen ons beleid",
]


if __name__ == "__main__":
    import sys

    differences = compare_builds(Path(sys.argv[1]), Path(sys.argv[2]))
    print("\n".join(differences) or "Geen verschillen in titels en tekst.")
    print(f"{len(differences)} verschil(len) tussen {sys.argv[1]} en {sys.argv[2]}.")
