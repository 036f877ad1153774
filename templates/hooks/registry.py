"""Transitional: the counter and list from the database when a build was given no data file.

The site reads its data from the file named in MAILER_SITE_DATA (mkdocs.yml INHERITs it), which
the service writes before a build; Zensical, which runs no hooks, builds from that alone. Until
every build writes that file first, a MkDocs build without MAILER_SITE_DATA reads the database
here, as the site did before. Remove this file and the `hooks:` entry in mkdocs.yml then.
"""

import logging
import os

# Outside the "mkdocs" logger: a strict build must not fail only because the service is away.
log = logging.getLogger("schuldeiserscoalitie.build")


def on_config(config):
    """Fill `config.extra.adoptions` from the registry unless a data file was given."""
    if os.environ.get("MAILER_SITE_DATA"):
        return config
    from mailer import create_app
    from mailer.adoptions.registry import snapshot

    try:
        with create_app().app_context():
            config.extra["adoptions"] = snapshot()
    except Exception as error:  # no database yet: the source's 25 from content/deelnemers.yml
        log.warning("Teller niet uit de database gelezen (%s); 25 uit de brontekst getoond.", error)
    return config
