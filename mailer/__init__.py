"""The Schuldeiserscoalitie web service: the built site, the forms, the outbox, the counter API."""

import secrets
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import adoptions, invites, limits, outbox
from .extensions import csrf, db, migrate

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
    )
    # Each area keeps the defaults of its own settings.
    for defaults in (outbox.DEFAULTS, limits.DEFAULTS, invites.DEFAULTS, adoptions.DEFAULTS):
        app.config.from_mapping(defaults)
    app.config.from_prefixed_env("MAILER")
    if test_config is not None:
        app.config.from_mapping(test_config)
    for key, name in (("SECRET_KEY", "secret_key"), ("HASH_KEY", "hash_key")):
        if not app.config.get(key):
            app.config[key] = _instance_secret(instance, name)
    app.config["SITE_URL"] = app.config["SITE_URL"].rstrip("/")
    if app.config["TRUSTED_PROXIES"]:
        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    outbox.mail.init_app(app)

    from . import api, cli, selfscan, site
    from .adoptions import routes as adoption_routes
    from .invites import routes as invite_routes

    app.register_blueprint(api.bp)
    app.register_blueprint(invite_routes.bp)
    app.register_blueprint(adoption_routes.bp)
    app.register_blueprint(selfscan.bp)
    site.init_app(app)  # last: its catch-all serves the built site for every path left
    cli.register_commands(app)
    return app


def _instance_secret(instance: Path, name: str) -> str:
    """Read, or create once, a random key kept in the instance folder for local runs."""
    path = instance / name
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
