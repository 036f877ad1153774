"""The Schuldeiserscoalitie web service: the built site, the forms, the outbox, the counter API."""

import os
import secrets
from pathlib import Path

from flask import Flask
from sqlalchemy.engine import make_url
from werkzeug.middleware.proxy_fix import ProxyFix

from . import adoptions, invites, limits, outbox, selfscan, staff, words
from .extensions import csrf, db, migrate
from .forms import check_email

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    """Create the app: defaults in code, then `MAILER_*` variables, then `test_config`."""
    app = Flask(__name__, instance_path=str(ROOT / "instance"))
    instance = Path(app.instance_path)
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{instance / 'mailer.sqlite'}",
        SITE_DIR=str(ROOT / "site"),
        SITE_URL="http://127.0.0.1:8000",
        MAIL_FILE_DIR=str(instance / "mail"),
        TRUSTED_PROXIES=0,  # proxies in front that add X-Forwarded-For (nginx: 1)
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
        FORM_MAX_AGE=3600,  # seconds a shown form may be sent back (its stamp's lifetime)
        CONTACT_EMAIL="",  # the coalition's own address; required with MAILER_ENV=production
    )
    # Each area keeps the defaults of its own settings.
    for defaults in (outbox.DEFAULTS, limits.DEFAULTS, invites.DEFAULTS, adoptions.DEFAULTS,
                     staff.DEFAULTS, words.DEFAULTS):
        app.config.from_mapping(defaults)
    app.config.from_prefixed_env("MAILER")
    if test_config is not None:
        app.config.from_mapping(test_config)
    if app.config.get("ENV") == "production":
        _check_production(app.config)  # before a local key could stand in for a missing one
    for key, name in (("SECRET_KEY", "secret_key"), ("HASH_KEY", "hash_key")):
        if not app.config.get(key):
            app.config[key] = _instance_secret(instance, name)
    app.config["SITE_URL"] = app.config["SITE_URL"].rstrip("/")
    with app.app_context():  # a refusal speaks the words of content/formulieren.yml
        _check_addresses(app.config)
    _create_database_file(app.config["SQLALCHEMY_DATABASE_URI"])
    if app.config["TRUSTED_PROXIES"]:
        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    outbox.mail.init_app(app)
    words.init_app(app)

    from . import api, cli, site
    from .adoptions import routes as adoption_routes
    from .invites import routes as invite_routes
    from .staff import auth as staff_auth
    from .staff import routes as staff_routes

    app.session_interface = api.SessionInterface()
    app.register_blueprint(api.bp)
    app.register_blueprint(invite_routes.bp)
    app.register_blueprint(adoption_routes.bp)
    app.register_blueprint(selfscan.bp)
    staff_auth.init_app(app)  # Flask-Security's sign-in pages under /beheer/
    app.register_blueprint(staff_routes.bp)
    site.init_app(app)  # last: its catch-all serves the built site for every path left
    cli.register_commands(app)
    return app


def _instance_secret(instance: Path, name: str) -> str:
    """Read, or create once, a random key kept in the instance folder for local runs."""
    path = instance / name
    if not path.exists():
        instance.mkdir(mode=0o700, parents=True, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            file.write(secrets.token_hex(32))
    return path.read_text().strip()


def _create_database_file(uri: str) -> None:
    """Create a new SQLite file readable by its owner only; SQLite gives its -wal and -shm
    files the same permissions."""
    url = make_url(uri)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    path = Path(url.database)
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def _check_addresses(config) -> None:
    """The coalition's own addresses go into mail headers: each must be one plain address."""
    for key in ("CONTACT_EMAIL", "REVIEW_EMAIL"):
        if config.get(key):
            try:
                config[key] = check_email(config[key])
            except ValueError as error:
                raise RuntimeError(f"MAILER_{key} is geen bruikbaar e-mailadres: {error}") from None


def _check_production(config) -> None:
    """With MAILER_ENV=production, refuse to start without what production cannot do without."""
    needed = {
        "MAILER_MAIL_SERVER": config.get("MAIL_SERVER"),
        "MAILER_SECRET_KEY": config.get("SECRET_KEY"),
        "MAILER_HASH_KEY": config.get("HASH_KEY"),
        "MAILER_CONTACT_EMAIL": config.get("CONTACT_EMAIL"),
    }
    missing = [name for name, value in needed.items() if not value]
    if missing:
        raise RuntimeError("MAILER_ENV=production, maar deze instellingen ontbreken: "
                           + ", ".join(missing) + ". Zie deploy/schuldeiserscoalitie.env.example.")
