"""Dynamic pages in the built site's shell: the same header, navigation, footer and styles.

Dynamic pages are not copies of the theme: `render_page` takes the built page of the same URL
(for example `site/tip-een-collega/index.html`) and puts the form where that page holds the
`<!-- mailer:form -->` marker. A change to the theme or the page text shows on both after a build.
"""

import html as entities
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urljoin

from flask import Response, current_app
from markupsafe import escape

from .build import CANONICAL, with_urls
from .words import fill, markdown

FORM_MARKER = "<!-- mailer:form -->"
ARTICLE = re.compile(r'(<article class="md-content__inner md-typeset">)(.*)(</article>)', re.S)
TITLE = re.compile(r"<title>(.*?)</title>", re.S)
# href/src values that are neither absolute, nor on the same page, nor with a scheme (http:, data:).
RELATIVE_LINK = re.compile(r'(\s(?:href|src)=")(?![a-zA-Z][a-zA-Z0-9+.-]*:|/|#)([^"]*)"')
# The paths in Material's inline configuration ("base", "search").
CONFIG_PATHS = re.compile(r'("(?:base|search)": ")(?![a-zA-Z][a-zA-Z0-9+.-]*:|/)([^"]*)"')
SKIP_TARGET = re.compile(r'<a href="#([^"]+)" class="md-skip">')


def render_page(url_path: str, body: str, *, title: str | None = None, status: int = 200,
                replace: bool = False,
                headers: dict | None = None) -> Response:
    """Render `body` inside the built page at `url_path` (e.g. "tip-een-collega/").

    With `replace=False` the body goes where the page has its form marker, below the page's own
    text; with `replace=True` it takes the place of the whole article. A `title` becomes the
    first part of the page's <title>, as screen readers announce it first.
    """
    html, address = _built_page(url_path)
    if address:  # the body's links get their full address for print, as the page's have
        body = with_urls(body, address)
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
    return Response(html, status=status, headers=headers, mimetype="text/html")


def render_message(url_path: str, page, *, status: int = 200, headers: dict | None = None,
                   form: str = "", **values) -> Response:
    """An answer page from its words in content/ in place of the article at `url_path`.

    `page` has a `titel` (the heading, and the first part of the <title>) and a `tekst` in
    Markdown; `{name}` in either is filled in from `values`. `form` (HTML) follows the text.
    """
    title = fill(page["titel"], **values)
    body = f"<h1>{escape(title)}</h1>\n{markdown(page['tekst'], **values)}{form}"
    return render_page(url_path, body, title=title, status=status, replace=True, headers=headers)


@lru_cache(maxsize=32)
def _read(path: str, mtime: float, page_url: str) -> tuple[str, str | None]:
    """Read a built page once per version, with its relative links made absolute; also its
    canonical address (None without a site_url).

    MkDocs writes links relative to the page (`../assets/...`); a dynamic page one level deeper,
    such as /tip-een-collega/verstuurd/, needs them absolute to find the theme's files.
    """
    html = Path(path).read_text(encoding="utf-8")
    html = RELATIVE_LINK.sub(lambda m: m.group(1) + urljoin(page_url, m.group(2)) + '"', html)
    html = CONFIG_PATHS.sub(lambda m: m.group(1) + urljoin(page_url, m.group(2)) + '"', html)
    canonical = CANONICAL.search(html)
    return html, entities.unescape(canonical.group(1)) if canonical else None


def _built_page(url_path: str) -> tuple[str, str | None]:
    """The built page's HTML and canonical address, re-read only when a new build changed it."""
    path = Path(current_app.config["SITE_DIR"]) / url_path / "index.html"
    try:
        return _read(str(path), path.stat().st_mtime, "/" + url_path.strip("/") + "/")
    except FileNotFoundError:
        message = f"De gebouwde site ontbreekt: {path}. Draai eerst `mkdocs build`."
        raise RuntimeError(message) from None
