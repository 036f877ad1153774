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
from functools import lru_cache
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
# The versions in use: the last file that read without error, by path.
_in_use: dict[str, "Words"] = {}


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


def words(name: str) -> Words:
    """The data file `content/<name>.yml`, read again only after it changed."""
    path = Path(current_app.config["CONTENT_DIR"]) / f"{name}.yml"
    try:
        found = _read(str(path), path.stat().st_mtime)
    except (OSError, yaml.YAMLError, ValueError) as error:
        if str(path) not in _in_use:
            raise
        log.error("%s is niet te lezen (%s); de vorige versie blijft in gebruik", path, error)
        return _in_use[str(path)]
    _in_use[str(path)] = found
    return found


@lru_cache(maxsize=16)
def _read(path: str, mtime: float) -> Words:
    """Parse a data file once per version."""
    with open(path, encoding="utf-8") as file:
        values = yaml.safe_load(file)
    if not isinstance(values, dict):
        raise ValueError(f"{path} bevat geen woorden")
    return Words(values, f"content/{Path(path).name}")


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
    """A text written in Markdown as HTML, with its places filled in (values escaped).

    `inline` leaves out the paragraph around a text of one paragraph, for use inside one.
    """
    filled = fill(text, **{name: escape(value) for name, value in values.items()})
    html = markdown_lib.markdown(filled, extensions=["attr_list"])
    if inline and html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return Markup(html)


def init_app(app) -> None:
    """Give templates `words` and the filters `fill` and `markdown`."""
    app.add_template_global(words)
    app.add_template_filter(fill)
    app.add_template_filter(markdown)
