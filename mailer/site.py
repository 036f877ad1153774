"""The built MkDocs site, served as it is, and the shell that gives dynamic pages the same look.

Dynamic pages are not copies of the theme: `render_page` takes the built page of the same URL
(for example `site/tip-een-collega/index.html`) and puts the form where that page holds the
`<!-- mailer:form -->` marker. A change to the theme or the page text shows on both after a build.
"""

import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urljoin

from flask import Blueprint, current_app, redirect, request, send_from_directory
from markupsafe import Markup, escape

bp = Blueprint("site", __name__)

FORM_MARKER = "<!-- mailer:form -->"
ARTICLE = re.compile(r'(<article class="md-content__inner md-typeset">)(.*)(</article>)', re.S)
TITLE = re.compile(r"<title>(.*?)</title>", re.S)
# href/src values that are neither absolute, nor on the same page, nor with a scheme (http:, data:).
RELATIVE_LINK = re.compile(r'(\s(?:href|src)=")(?![a-zA-Z][a-zA-Z0-9+.-]*:|/|#)([^"]*)"')
# The paths in Material's inline configuration ("base", "search").
CONFIG_PATHS = re.compile(r'("(?:base|search)": ")(?![a-zA-Z][a-zA-Z0-9+.-]*:|/)([^"]*)"')
SKIP_TARGET = re.compile(r'<a href="#([^"]+)" class="md-skip">')

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    # Material writes its configuration and palette in inline scripts and styles.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
}


# (lower-case name, name, value): compared with what a view set, then added in one go.
_SECURITY_HEADER_LIST = [(name.lower(), name, value) for name, value in SECURITY_HEADERS.items()]


@bp.after_app_request
def add_security_headers(response):
    """Give every response the same security headers nginx sets in production.

    A header a view set itself stays. This runs on every response, so it reads the response's
    headers once instead of asking for each name (werkzeug raises and catches an exception for
    every name that is missing).
    """
    present = {name.lower() for name, _ in response.headers}
    response.headers.extend([(name, value) for lower, name, value in _SECURITY_HEADER_LIST
                             if lower not in present])
    return response


@bp.app_errorhandler(404)
def not_found(error):
    """Answer an unknown path with the site's own 404 page."""
    path = Path(current_app.config["SITE_DIR"]) / "404.html"
    if path.exists():
        return path.read_text(encoding="utf-8"), 404
    return "Pagina niet gevonden", 404


@bp.get("/", defaults={"path": ""})
@bp.get("/<path:path>")
def static_page(path: str):
    """Serve a file of the built site; a folder answers with its `index.html`."""
    site_dir = Path(current_app.config["SITE_DIR"])
    if path == "" or path.endswith("/"):
        path += "index.html"
    elif (site_dir / path).is_dir():
        query = request.query_string.decode()
        return redirect(request.path + "/" + (f"?{query}" if query else ""), 308)
    # Pages change with every build; Material's assets carry a hash in their names.
    max_age = 0 if path.endswith(".html") else 3600
    return send_from_directory(site_dir, path, max_age=max_age)


def render_page(url_path: str, body: str, *, title: str | None = None, status: int = 200,
                replace: bool = False) -> tuple[str, int]:
    """Render `body` inside the built page at `url_path` (e.g. "tip-een-collega/").

    With `replace=False` the body goes where the page has its form marker, below the page's own
    text; with `replace=True` it takes the place of the whole article. A `title` becomes the
    first part of the page's <title>, as screen readers announce it first.
    """
    html = _built_page(url_path)
    if replace:
        # The theme's "Ga naar inhoud" link points at the replaced heading: keep its target.
        skip = SKIP_TARGET.search(html)
        if skip:
            body = f'<div id="{skip.group(1)}">{body}</div>'
        html = ARTICLE.sub(lambda m: m.group(1) + body + m.group(3), html, count=1)
    elif FORM_MARKER in html:
        html = html.replace(FORM_MARKER, body, 1)
    else:
        html = ARTICLE.sub(lambda m: m.group(1) + m.group(2) + body + m.group(3), html, count=1)
    if title:
        html = TITLE.sub(lambda m: f"<title>{escape(title)} - {m.group(1)}</title>", html, count=1)
    return Markup(html), status


@lru_cache(maxsize=32)
def _read(path: str, mtime: float, page_url: str) -> str:
    """Read a built page once per version, with its relative links made absolute.

    MkDocs writes links relative to the page (`../assets/...`); a dynamic page one level deeper,
    such as /tip-een-collega/verstuurd/, needs them absolute to find the theme's files.
    """
    html = Path(path).read_text(encoding="utf-8")
    html = RELATIVE_LINK.sub(lambda m: m.group(1) + urljoin(page_url, m.group(2)) + '"', html)
    return CONFIG_PATHS.sub(lambda m: m.group(1) + urljoin(page_url, m.group(2)) + '"', html)


def _built_page(url_path: str) -> str:
    """The built page's HTML, re-read only when a new build changed it."""
    path = Path(current_app.config["SITE_DIR"]) / url_path / "index.html"
    try:
        return _read(str(path), path.stat().st_mtime, "/" + url_path.strip("/") + "/")
    except FileNotFoundError:
        message = f"De gebouwde site ontbreekt: {path}. Draai eerst `mkdocs build`."
        raise RuntimeError(message) from None
