"""Helpers for the site tests and the site benchmark: a local static server and page lists."""

import gzip
import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API_PATH = "/api/adoptions/count"

# Every page in the navigation, by URL, with the Markdown file it comes from.
PAGES = {
    "/": "index.md",
    "/incassobeleid/": "incassobeleid.md",
    "/warm-doorverwijzen/": "warm-doorverwijzen.md",
    "/deelnemers/": "deelnemers.md",
    "/tip-een-collega/": "tip-een-collega.md",
    "/meedoen/": "meedoen.md",
    "/contact/": "contact.md",
    "/privacy/": "privacy.md",
    "/toegankelijkheid/": "toegankelijkheid.md",
}

COMPRESSIBLE = (".html", ".css", ".js", ".json", ".svg", ".txt", ".xml")


class _Handler(SimpleHTTPRequestHandler):
    """Serve files from the site folder; optionally answer the count API and gzip text."""

    api_count: int | None = None
    compress = False

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
