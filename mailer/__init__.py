"""The Schuldeiserscoalitie web service: the built site, the forms, the outbox, the counter API."""

import secrets
from pathlib import Path

from flask import Flask

from .extensions import csrf, db, migrate
from .outbox import mail

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    """Create the app: defaults in code, then `MAILER_*` variables, then `test_config`."""
    app = Flask(__name__, instance_path=str(ROOT / "instance"))
    instance = Path(app.instance_path)
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{instance / 'mailer.sqlite'}",
        SITE_DIR=str(ROOT / "site"),
        SITE_URL="http://127.0.0.1:8000",
        MAIL_SERVER=None,  # unset: mails are written to MAIL_FILE_DIR as .eml files
        MAIL_PORT=25,
        MAIL_DEFAULT_SENDER="Schuldeiserscoalitie <noreply@schuldeiserscoalitie.nl>",
        MAIL_TIMEOUT=30,
        MAIL_FILE_DIR=str(instance / "mail"),
        OUTBOX_MAX_ATTEMPTS=8,  # with backoff from 60 s this spans about four hours
        OUTBOX_BACKOFF_SECONDS=60,
        OUTBOX_BATCH_SIZE=50,
        OUTBOX_LEASE_SECONDS=600,  # a claimed mail left by a crashed worker is due again after this
        ADOPTERS_BEFORE_REGISTRY=25,  # the first value of the setting, from the source document
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.config.from_prefixed_env("MAILER")
    if test_config is not None:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(instance)
    app.config["SITE_URL"] = app.config["SITE_URL"].rstrip("/")
    # Flask-Mail only sends when this is explicitly off in tests; the outbox decides instead.
    app.config.setdefault("MAIL_SUPPRESS_SEND", False)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    mail.init_app(app)

    from . import api, cli, selfscan, site
    from .adoptions import routes as adoptions
    from .invites import routes as invites

    app.session_interface = api.SessionInterface()
    app.register_blueprint(api.bp)
    app.register_blueprint(invites.bp)
    app.register_blueprint(adoptions.bp)
    app.register_blueprint(selfscan.bp)
    # Last: its catch-all route serves the built site for every path the others do not claim.
    site.init_app(app)
    cli.register_commands(app)
    return app


def _instance_secret(instance: Path) -> str:
    """Read, or create once, a random secret key kept in the instance folder for local runs."""
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
