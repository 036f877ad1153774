"""The `mailer` command: serve, worker, adoptions, plus Flask's own (db, routes, shell)."""

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from . import create_app
from .adoptions.cli import adoptions


@click.group(cls=FlaskGroup, create_app=create_app)
def main():
    """Webservice van de Schuldeiserscoalitie."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--workers", default=2, show_default=True, help="Aantal gunicorn-processen.")
def serve(host: str, port: int, workers: int):
    """Serveer site en service met gunicorn."""
    warn_without_mail_server()
    config = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py"
    args = [sys.executable, "-m", "gunicorn", "--config", str(config), "--bind", f"{host}:{port}",
            "--workers", str(workers), "--access-logfile", "-", "mailer.wsgi:app"]
    os.execv(sys.executable, args)


@click.command()
@click.option("--once", is_flag=True, help="Verstuur één ronde en stop.")
@click.option("--poll", default=2.0, show_default=True, help="Seconden tussen lege rondes.")
@with_appcontext
def worker(once: bool, poll: float):
    """Verstuur de mail uit de outbox, met nieuwe pogingen bij tijdelijke fouten."""
    from .outbox import run_worker, send_due_mail

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    warn_without_mail_server()
    if once:
        click.echo(send_due_mail())
        return
    stopping = []
    # Finish the mail in hand on SIGTERM or Ctrl-C, then stop: nothing half-done.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.append(True))
    # Beside the mail, so a build never holds up a mail and a slow mail server never the site.
    builder = threading.Thread(target=rebuild_site_when_changed, name="site-rebuild",
                               args=(current_app._get_current_object(), poll,
                                     lambda: bool(stopping)))
    builder.start()
    try:
        run_worker(poll, stop=lambda: bool(stopping), hourly=housekeeping)
    finally:
        stopping.append(True)
        builder.join()


def rebuild_site_when_changed(app: Flask, poll: float, stop) -> None:
    """Until `stop()`: tell reviewers of confirmed registrations and rebuild the site after a
    change to the adopters; see staff/review.py and staff/rebuild.py."""
    from .staff.rebuild import rebuild_if_due
    from .staff.review import notify_reviewers

    log = logging.getLogger("mailer.staff")
    while not stop():
        for task in (notify_reviewers, rebuild_if_due):
            with app.app_context():
                try:
                    task()
                except Exception:  # the database away for a moment: try again next round
                    log.exception("%s mislukt", task.__name__)
        time.sleep(poll)


def warn_without_mail_server() -> None:
    """Say loudly, at the start, that without a mail server no mail leaves this machine."""
    if not current_app.config.get("MAIL_SERVER"):
        folder = current_app.config["MAIL_FILE_DIR"]
        click.secho(f"LET OP: geen mailserver ingesteld (MAILER_MAIL_SERVER). Er gaat geen mail "
                    f"de deur uit: elke mail wordt alleen als bestand bewaard in {folder} en na "
                    f"{current_app.config['MAIL_FILE_KEEP_DAYS']} dagen gewist.",
                    fg="yellow", bold=True, err=True)


def housekeeping() -> None:
    """Forget what the privacy page says we no longer keep: old limit counts, registrations,
    the traces of sent mail, and audit entries older than two years."""
    from .adoptions.registry import purge_expired
    from .extensions import db
    from .limits import prune
    from .outbox import purge_finished
    from .staff.audit import purge as purge_audit
    from .staff.figures import keep_weekly_tips

    prune()
    purge_expired()
    keep_weekly_tips()  # before the traces of sent tips go
    purge_finished()
    purge_audit()
    db.session.commit()


def register_commands(app: Flask) -> None:
    """Add the service's commands to the app, so `mailer` and the test runner both have them."""
    from .build import build_site, site_data
    from .staff.cli import staff

    app.cli.add_command(worker)
    app.cli.add_command(staff)
    app.cli.add_command(adoptions)
    app.cli.add_command(build_site)
    app.cli.add_command(site_data)
