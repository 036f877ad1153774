"""The built site, served by WhiteNoise in front of the Flask views, and the security headers.

WhiteNoise answers a path only when it is a file of the built site that no Flask view claims
(the forms at /tip-een-collega/ and /meedoen/ exist both as a built page and as a view; the view
wins). Everything else goes to Flask, whose 404 is the site's own 404.html. WhiteNoise looks a
path up in the list of files it made at start, so a request never touches the file system with a
name a visitor chose: `..`, encoded slashes, NUL or overlong names simply are not in the list.
"""

import os
import re
import stat
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, Flask, current_app
from werkzeug.exceptions import HTTPException, NotFound
from whitenoise import WhiteNoise
from whitenoise.responders import Response

from .build import inline_script_hashes

bp = Blueprint("site", __name__)

# Material's assets carry a content hash in their names (main.57a0d79d.min.css): cached for good.
HASHED_NAME = re.compile(r"/assets/.+\.[0-9a-f]{8}\.min\.(?:css|js)(?:\.map)?$")
# The rest of /assets/ (our own CSS and JS, search language files, icons) keeps its name from
# build to build: a short while in the cache, then asked again. Pages are asked again every time.
ASSETS_CACHE = "public, max-age=300"
PAGES_CACHE = "no-cache"

# script-src gets the hashes of the built pages' inline scripts; see `security_headers`.
CSP = (
    "default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    # Browsers ignore it over plain http (`make run`); nginx sends it over https.
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Content-Security-Policy": CSP.format(hashes=""),
}


def init_app(app: Flask) -> None:
    """Serve the built site in front of `app`'s views; called last, once every view is known."""
    app.register_blueprint(bp)
    files = SiteFiles(app)
    app.extensions["site"] = files
    app.wsgi_app = files


def security_headers(site_dir: str | os.PathLike) -> dict[str, str]:
    """The security headers for the site built in `site_dir`, its inline scripts allowed by hash."""
    hashes = "".join(f" '{digest}'" for digest in inline_script_hashes(Path(site_dir)))
    return {**SECURITY_HEADERS, "Content-Security-Policy": CSP.format(hashes=hashes)}


class SiteFiles:
    """WSGI middleware: the built site's files, read again when a new build took its place."""

    def __init__(self, app: Flask):
        self.app = app
        self.flask = app.wsgi_app
        self.site_dir = app.config["SITE_DIR"]
        self.version = ()
        self.headers = SECURITY_HEADERS
        self.refresh()

    def __call__(self, environ, start_response):
        """Answer with a file of the site, or hand the request to Flask."""
        self.refresh()
        return self.static(environ, start_response)

    def refresh(self) -> None:
        """List the site's files again if the folder is another one (a new build swapped in)."""
        try:
            info = os.stat(self.site_dir)
            version = (info.st_dev, info.st_ino, info.st_mtime_ns)
        except OSError:
            version = None
        if version == self.version:
            return
        headers = security_headers(self.site_dir) if version else SECURITY_HEADERS
        static = _SiteWhiteNoise(self.flask, headers)
        if version:
            static.add_site(self.site_dir, flask_owns=self._flask_owns)
        self.static, self.headers, self.version = static, headers, version

    def _flask_owns(self, url: str) -> bool:
        """Whether a Flask view answers `url` (or redirects it), so the view wins over a file."""
        try:
            self.app.url_map.bind("localhost").match(url, method="GET")
        except NotFound:
            return False
        except HTTPException:  # a redirect, or another method: still the view's path
            return True
        return True


class _SiteWhiteNoise(WhiteNoise):
    """WhiteNoise for one build: no link followed, our cache and security headers, 308s."""

    def __init__(self, application, headers: dict[str, str]):
        self.security = headers
        super().__init__(application, index_file=True, max_age=None, allow_all_origins=False,
                         immutable_file_test=HASHED_NAME.pattern,
                         add_headers_function=self._add_headers)

    def add_site(self, root: str, flask_owns: Callable[[str], bool]) -> None:
        """List every regular file under `root`, reached without a symbolic link."""
        root = os.path.abspath(root).rstrip(os.sep) + os.sep
        stat_cache = dict(_regular_files(root))
        for path in stat_cache:
            self.add_file_to_dictionary("/" + path[len(root):], path, stat_cache=stat_cache)
        for url in [url for url in self.files if flask_owns(url)]:
            del self.files[url]

    def _add_headers(self, headers, path: str, url: str) -> None:
        """Cache rules beside WhiteNoise's for hashed names, and the security headers."""
        if "Cache-Control" not in headers:
            headers["Cache-Control"] = ASSETS_CACHE if url.startswith("/assets/") else PAGES_CACHE
        for name, value in self.security.items():
            headers[name] = value

    def redirect(self, from_url: str, to_url: str) -> "_Redirect":
        """A folder without its slash, or its index.html, goes to the folder's address."""
        return _Redirect(to_url, self.security)


class _Redirect:
    """A 308 to a folder's address that keeps the query string, as Flask's own redirects do."""

    def __init__(self, location: str, headers: dict[str, str]):
        self.location = quote(location)
        self.headers = list(headers.items())

    def get_response(self, method: str, environ: dict) -> Response:
        """The redirect for this request."""
        query = environ.get("QUERY_STRING")
        location = f"{self.location}?{query}" if query else self.location
        return Response(HTTPStatus.PERMANENT_REDIRECT, [*self.headers, ("Location", location)],
                        None)


def _regular_files(folder: str):
    """(path, stat) of every regular file under `folder`; links and what they point to are left."""
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False):
            yield from _regular_files(entry.path)
        elif entry.is_file(follow_symlinks=False):
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode):
                yield entry.path, info


@bp.after_app_request
def add_security_headers(response):
    """Give every answer of a view the site's security headers; a view's own stay."""
    for name, value in current_app.extensions["site"].headers.items():
        response.headers.setdefault(name, value)
    return response


@bp.app_errorhandler(404)
def not_found(error):
    """Answer an unknown path with the site's own 404 page."""
    path = Path(current_app.config["SITE_DIR"]) / "404.html"
    try:
        return path.read_text(encoding="utf-8"), 404
    except OSError:
        return "Pagina niet gevonden", 404
