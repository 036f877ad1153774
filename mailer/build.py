"""The step after the site generator: compress, allow the inline scripts by hash, swap the build in.

It works on a folder of built files, so it serves MkDocs today and Zensical later alike, with no
hook or plugin in either: `mkdocs build -d site.new && mailer build-site site.new`.

- Every text file gets a `.gz` and a `.br` beside it (WhiteNoise's compressor), which WhiteNoise
  in `make run` and nginx's `gzip_static` send as they are.
- The sha256 of every inline script of every page goes into the Content-Security-Policy, so it
  needs no 'unsafe-inline' for scripts. Flask reads them from the site it serves; nginx gets them
  in a generated snippet, `security-headers.conf` beside the site folder, which
  `deploy/nginx.conf` includes in every location (reload nginx after a build that changes it).
- Every link gets its absolute address in `data-url`, which the print style sheet writes out
  after the link's text: Material writes links relative to the page (`../incassobeleid/`).
- The new folder takes the site folder's place with two renames, so no request sees half a build.
"""

import base64
import hashlib
import html
import os
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import click
import yaml
from flask import current_app
from flask.cli import with_appcontext
from whitenoise.compress import Compressor

HEADERS_FILE = "security-headers.conf"
CANONICAL = re.compile(r'<link rel="canonical" href="([^"]+)"')
LINK = re.compile(r"<a\s[^>]*>")
HREF = re.compile(r'\shref="([^"]*)"')
JS_TYPE_ENDINGS = ("javascript", "ecmascript")  # text/javascript, application/ecmascript, …


def finish_site(built: Path, site_dir: Path, headers_file: Path | None = None) -> None:
    """Compress `built`, write nginx's headers snippet for it, and make it the site at `site_dir`.

    `built` may be `site_dir` itself (a generator that wrote in place); the snippet goes to
    `headers_file`, by default `security-headers.conf` beside `site_dir`.
    """
    from .site import security_headers

    write_out_links(built)
    compress(built)
    headers_file = headers_file or site_dir.parent / HEADERS_FILE
    _write_atomically(headers_file, nginx_headers(security_headers(built)))
    if built.resolve() != site_dir.resolve():
        swap_in(built, site_dir)


def write_out_links(folder: Path) -> None:
    """Give every link of every page its absolute address in `data-url`, for print.

    A page's address is its canonical link; a page without one (404.html, which may show at any
    address and links from the root) counts as the home page. Without a site_url there are no
    canonical links and the links stay as they are. Links within the page (`#...`) are left out.
    """
    home = folder / "index.html"
    found = CANONICAL.search(home.read_text(encoding="utf-8")) if home.is_file() else None
    if not found:
        return
    site = html.unescape(found.group(1))
    for page in folder.rglob("*.html"):
        if page.is_file() and not page.is_symlink():
            text = page.read_text(encoding="utf-8")
            canonical = CANONICAL.search(text)
            base = html.unescape(canonical.group(1)) if canonical else site
            written = with_urls(text, base)
            if written != text:
                page.write_text(written, encoding="utf-8")


def with_urls(text: str, base: str) -> str:
    """`text` with `data-url` on each of its links, made absolute against the address `base`."""
    return LINK.sub(lambda tag: _with_url(tag.group(0), base), text)


def _with_url(tag: str, base: str) -> str:
    """The start tag of a link with `data-url`, its href made absolute against `base`."""
    href = HREF.search(tag)
    if not href or " data-url=" in tag or href.group(1).startswith("#"):
        return tag
    url = urljoin(base, html.unescape(href.group(1)))
    if url.lower().startswith("javascript:"):
        return tag
    return f'{tag[:-1]} data-url="{html.escape(url)}">'


def compress(folder: Path) -> None:
    """Write a gzip and a brotli copy beside every file worth compressing."""
    # Source maps are only read by a developer's tools: not worth the time.
    compressor = Compressor(extensions=(*Compressor.SKIP_COMPRESS_EXTENSIONS, "map"), quiet=True)
    paths = [path for path in folder.rglob("*")
             if path.is_file() and not path.is_symlink() and compressor.should_compress(path.name)]
    with ThreadPoolExecutor() as pool:
        list(pool.map(compressor.compress, map(str, paths)))


def inline_script_hashes(folder: Path) -> list[str]:
    """The CSP sources ('sha256-…') of every distinct inline script in the HTML under `folder`."""
    found: set[str] = set()
    for page in sorted(folder.rglob("*.html")):
        if page.is_file() and not page.is_symlink():
            parser = _InlineScripts()
            parser.feed(page.read_text(encoding="utf-8"))
            parser.close()
            found.update(parser.hashes)
    return sorted(found)


class _InlineScripts(HTMLParser):
    """Collect the hash of each <script> that runs and has its code inline."""

    def __init__(self):
        super().__init__()
        self.hashes: set[str] = set()
        self.code: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        """Start collecting a script's text when the browser would run it as inline code."""
        if tag == "script":
            attrs = dict(attrs)
            kind = (attrs.get("type") or "").strip().lower()
            runs = kind in ("", "module", "importmap") or kind.endswith(JS_TYPE_ENDINGS)
            self.code = [] if runs and "src" not in attrs else None

    def handle_data(self, data):
        """Keep the text inside a collected script exactly as written."""
        if self.code is not None:
            self.code.append(data)

    def handle_endtag(self, tag):
        """Hash the collected script: sha256 of its UTF-8 text, base64, as CSP wants it."""
        if tag == "script" and self.code is not None:
            digest = hashlib.sha256("".join(self.code).encode("utf-8")).digest()
            self.hashes.add("sha256-" + base64.b64encode(digest).decode("ascii"))
            self.code = None


def nginx_headers(headers: dict[str, str]) -> str:
    """An nginx snippet that sends `headers` on every answer, hiding the service's own copies."""
    lines = ["# Made by `mailer build-site` from mailer/site.py: do not edit; build again.",
             "# Included in every location of deploy/nginx.conf: an add_header in a location",
             "# drops those of the server block, and nginx owns these headers, so the service's",
             "# copies of them are hidden on proxied answers."]
    for name, value in headers.items():
        if '"' in value or "\n" in value:
            raise ValueError(f"header {name} cannot be written for nginx: {value!r}")
        lines += [f"proxy_hide_header {name};", f'add_header {name} "{value}" always;']
    return "\n".join(lines) + "\n"


def swap_in(built: Path, site_dir: Path) -> None:
    """Make the folder `built` the site at `site_dir`, removing the old build afterwards."""
    old = Path(tempfile.mkdtemp(prefix=f".{site_dir.name}-old-", dir=site_dir.parent))
    previous = old / site_dir.name
    try:
        if site_dir.exists():
            site_dir.rename(previous)
        try:
            built.rename(site_dir)
        except OSError:
            if previous.exists():
                previous.rename(site_dir)  # keep serving the old build
            raise
    finally:
        shutil.rmtree(old)


def _write_atomically(path: Path, text: str) -> None:
    """Write `path` so a reader sees the old or the new text, never a part."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False,
                                     prefix=f".{path.name}-") as file:
        file.write(text)
    os.chmod(file.name, 0o644)  # nginx's own user reads it
    os.replace(file.name, path)


@click.command("build-site")
@click.argument("built", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--headers-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Waar de beveiligingsheaders voor nginx komen (standaard naast de site-map).")
@with_appcontext
def build_site(built: Path | None, headers_file: Path | None):
    """Maak een gebouwde site af (comprimeren, CSP-hashes) en zet hem op zijn plaats.

    BUILT is de map die `mkdocs build -d` of Zensical maakte; zonder BUILT wordt de site-map
    zelf afgemaakt.
    """
    site_dir = Path(current_app.config["SITE_DIR"])
    finish_site(built or site_dir, site_dir, headers_file)
    click.echo(f"Site klaar in {site_dir}")



def write_site_data(path: Path) -> dict:
    """Write the count and public list the pages show, and the contact address, where mkdocs.yml
    reads them.

    mkdocs.yml INHERITs the file named in `MAILER_SITE_DATA`: the templates read
    `config.extra.adoptions`, and no build hook is needed (Zensical runs none). Written whole
    or not at all. Returns what was written.
    """
    from .adoptions.registry import snapshot

    data = snapshot()
    extra = {"adoptions": data, "contact_email": current_app.config["CONTACT_EMAIL"]}
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(path, yaml.safe_dump({"extra": extra}, allow_unicode=True))
    return data


@click.command("site-data")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def site_data(path: Path):
    """Schrijf de teller en de openbare lijst voor de volgende build naar PATH.

    Bouw daarna met MAILER_SITE_DATA=PATH, zodat de pagina's het echte aantal tonen.
    """
    data = write_site_data(path)
    click.echo(f"Teller {data['count']}, {len(data['adopters'])} op de lijst: {path}")
