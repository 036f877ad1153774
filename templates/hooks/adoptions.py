"""Bake the adoption count and the public adopter list into the static pages at build time.

The numbers are read through the service's own code from its database, so the pages show a true
count with JavaScript off or the service down. Where the database cannot be read, the build uses
what the last successful build saw (kept in the instance folder), and else the source's 25.
"""

import json
import logging
from pathlib import Path

# Outside the "mkdocs" logger: a strict build must not fail only because the service is away.
log = logging.getLogger("schuldeiserscoalitie.build")
SOURCE_COUNT = 25  # "25 ondernemingen hebben dit sociaal incassobeleid al geïmplementeerd"


def read_adoptions() -> dict:
    """Count and public list from the database, or from the last build that could read it."""
    from mailer import create_app
    from mailer.adoptions.registry import snapshot

    app = create_app()
    cache = Path(app.config.get("BUILD_CACHE_FILE") or Path(app.instance_path) / "last-build.json")
    try:
        with app.app_context():
            data = snapshot()
    except Exception as error:  # no database yet, or not reachable: keep the site true, not broken
        log.warning("Teller niet uit de database gelezen (%s); vorige waarde gebruikt.", error)
        if cache.exists():
            return json.loads(cache.read_text(encoding="utf-8"))
        return {"count": SOURCE_COUNT, "updated": None, "adopters": []}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(data), encoding="utf-8")
    return data


def on_config(config):
    """Make `config.extra.adoptions` available to every template."""
    config.extra["adoptions"] = read_adoptions()
    return config
