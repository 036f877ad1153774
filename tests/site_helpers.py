"""Helpers for the site tests and the site benchmark: a local static server and page lists."""

import gzip
import json
import threading
from datetime import datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

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
    """What the build hook reads: the registry's snapshot from this database."""
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
    from conftest import build_site, migrated_database

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
    return build_site(base / "site", uri), snapshot_of(uri)
