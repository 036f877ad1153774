"""The service's own words: form labels, hints and messages, answer pages and mails.

They live in data files in `content/` that staff edit like any page: the words of a page's form
and answers beside that page (`content/tip-een-collega.yml` next to `tip-een-collega.md`,
`content/meedoen.yml`, `content/zelfscan.yml`), what every form shares in
`content/formulieren.yml` and the mails in `content/mails.yml`. A file is read again when it
changes; a file that no longer reads keeps its last good version in use and the error is logged.

`{naam}` in a text is a place the service fills in; other braces stay as they are. A word the
code asks for and the file lacks stops with an error that names both, and `make test` renders
every page and mail, so such a mistake does not reach the site.
"""

import logging
import re
from pathlib import Path

import markdown as markdown_lib
import yaml
from flask import current_app
from markupsafe import Markup, escape

log = logging.getLogger(__name__)

DEFAULTS = {
    # The folder with the data files staff edit.
    "CONTENT_DIR": str(Path(__file__).resolve().parent.parent / "content"),
}
PLACE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
# The versions in use, by path: the file's modification time and its last good words.
_in_use: dict[str, tuple[float, "Words"]] = {}


class MissingWords(Exception):
    """A word the code asks for is not in the data file."""


class Words(dict):
    """One data file, or a part of it; a missing key names the file and the key."""

    def __init__(self, values: dict, source: str, prefix: str = ""):
        super().__init__({key: Words(value, source, f"{prefix}{key}.")
                          if isinstance(value, dict) else value
                          for key, value in values.items()})
        self.source, self.prefix = source, prefix

    def __missing__(self, key):
        raise MissingWords(f"{self.source} mist '{self.prefix}{key}'")

    def __getattr__(self, key):
        """`words.formulier.knop` in templates and code, as `words["formulier"]["knop"]`."""
        if key.startswith("__"):
            raise AttributeError(key)
        return self[key]


def words(name: str, check=None) -> Words:
    """The data file `content/<name>.yml`, read again only after it changed.

    `check`, if given, is called with a newly read version and raises ValueError when that
    version cannot be used; like a file that does not read, it leaves the last good version in
    use (logged once per change).
    """
    path = Path(current_app.config["CONTENT_DIR"]) / f"{name}.yml"
    known = _in_use.get(str(path))
    mtime = None
    try:
        mtime = path.stat().st_mtime
        if known and known[0] == mtime:
            return known[1]
        found = _read(path)
        if check:
            check(found)
    except (OSError, yaml.YAMLError, ValueError) as error:
        if known is None:
            raise
        log.error("%s is niet te lezen (%s); de vorige versie blijft in gebruik", path, error)
        if mtime is not None:  # not read again until it changes
            _in_use[str(path)] = (mtime, known[1])
        return known[1]
    _in_use[str(path)] = (mtime, found)
    return found


def _read(path: Path) -> Words:
    """Parse a data file."""
    with open(path, encoding="utf-8") as file:
        values = yaml.safe_load(file)
    if not isinstance(values, dict):
        raise ValueError(f"{path} bevat geen woorden")
    return Words(values, f"content/{path.name}")


def say(name: str, key: str, **values) -> str:
    """One text from `content/<name>.yml` by its dotted key, with its places filled in."""
    found = words(name)
    for part in key.split("."):
        found = found[part]
    return fill(found, **values)


def fill(text: str, **values) -> str:
    """`text` with each `{name}` of `values` filled in; any other braces left as they are."""
    return PLACE.sub(lambda m: str(values[m[1]]) if m[1] in values else m[0], str(text))


def markdown(text: str, inline: bool = False, **values) -> Markup:
    """A text written in Markdown as HTML, with its places filled in: a value is escaped and
    put in after the Markdown is rendered, so it is never read as Markdown itself.

    `inline` leaves out the paragraph around a text of one paragraph, for use inside one.
    """
    marks = {name: f"mailer-place-{number}-" for number, name in enumerate(values)}
    html = markdown_lib.markdown(fill(text, **marks), extensions=["attr_list"])
    for name, mark in marks.items():
        html = html.replace(mark, escape(values[name]))
    if inline and html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return Markup(html)


def init_app(app) -> None:
    """Give templates `words` and the filters `fill` and `markdown`."""
    app.add_template_global(words)
    app.add_template_filter(fill)
    app.add_template_filter(markdown)
