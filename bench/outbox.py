"""Benchmark (not a test): draining the outbox against a bare smtplib loop.

A local aiosmtpd server runs in its own process. The same N messages are sent three ways, in
one run:

- bare loop: smtplib over one connection; for each mail it builds the message from the same
  parts (sender, recipient, subject, headers, text and HTML) with the standard library's
  `EmailMessage` and sends it. This is the baseline for the target.
- bare bytes: the same loop with every message built beforehand, so only the transport is
  timed; shown for comparison, as the floor no code that builds messages can reach.
- outbox: `send_due_mail` rounds drain the queue (claim, build, send over one connection per
  round, one commit per mail recording and erasing it, checkpoint).

The three take turns in several rounds (the machine's load changes over a run) and each ratio is
the median of the rounds. Target: the outbox sends at least 0.7 of the bare loop's mails per
second.

Usage: .venv/bin/python bench/outbox.py [--mails 2000] [--rounds 4]
"""

import argparse
import multiprocessing
import smtplib
import socket
import statistics
import sys
import tempfile
import time
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = 0.7


def serve_smtp(port: int, ready) -> None:
    """An aiosmtpd server that accepts and forgets every message, until killed."""
    from aiosmtpd.controller import Controller

    class Sink:
        """Accept every message and keep none."""

        async def handle_DATA(self, server, session, envelope):
            """Say yes."""
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_app(tmp: str, port: int):
    """The app on a fresh migrated database, sending to the local server."""
    from flask_migrate import upgrade

    from mailer import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite",
                      "SECRET_KEY": "bench", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port,
                      "SITE_URL": "https://schuldeiserscoalitie.nl"})
    with app.app_context():
        upgrade()
    return app


def queue(app, mails: int) -> None:
    """Queue `mails` invitations, each to its own colleague."""
    from mailer.extensions import db
    from mailer.invites.email import invitation
    from mailer.outbox import queue_mail

    with app.test_request_context():
        pending = {"voornaam": "Jan", "achternaam": "Jansen"}
        for n in range(mails):
            mail = invitation(pending, f"collega{n}@bedrijf.example")
            queue_mail("invitation", mail["to"], mail["subject"], "invitation",
                       headers=mail["headers"], **mail["context"])
        db.session.commit()


def queued_parts(app) -> list[dict]:
    """The parts of every queued mail, for the bare loops."""
    from sqlalchemy import select

    from mailer.extensions import db
    from mailer.models import OutboxMail
    from mailer.outbox import render_mail

    with app.app_context():
        rows = db.session.scalars(select(OutboxMail).where(OutboxMail.status == "queued")
                                  .order_by(OutboxMail.id)).all()
        parts = []
        for row in rows:
            text, html = render_mail(row.template, **row.context)
            parts.append({"from": app.config["MAIL_DEFAULT_SENDER"], "to": row.recipient,
                          "subject": row.subject, "headers": row.headers, "text": text,
                          "html": html, "message_id": row.message_id})
        return parts


def build(parts: dict) -> EmailMessage:
    """One message from its parts, the standard library's way."""
    message = EmailMessage()
    message["From"], message["To"] = parts["from"], parts["to"]
    message["Subject"] = parts["subject"]
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = parts["message_id"]
    for name, value in parts["headers"].items():
        message[name] = value
    message.set_content(parts["text"])
    message.add_alternative(parts["html"], subtype="html")
    return message


def bare_loop(port: int, mails: list[dict]) -> float:
    """Mails per second for plain smtplib over one connection, building each message."""
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as connection:
        for parts in mails:
            connection.send_message(build(parts))
    return len(mails) / (time.perf_counter() - start)


def bare_bytes(port: int, mails: list[dict]) -> float:
    """Mails per second for plain smtplib over one connection, messages built beforehand."""
    ready = [(parts["from"], [parts["to"]], build(parts).as_bytes(policy=SMTP)) for parts in mails]
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as connection:
        for sender, recipients, data in ready:
            connection.sendmail(sender, recipients, data)
    return len(ready) / (time.perf_counter() - start)


def drain(app, mails: int) -> float:
    """Mails per second for worker rounds until the outbox is empty."""
    from mailer.outbox import send_due_mail

    sent = 0
    start = time.perf_counter()
    with app.app_context():
        while sent < mails:
            counts = send_due_mail()
            assert counts["retried"] == counts["failed"] == 0, counts
            sent += counts["sent"]
    return mails / (time.perf_counter() - start)


def main() -> int:
    """Measure the three in turns; non-zero if the target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    per_round = args.mails // args.rounds
    port = free_port()
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=serve_smtp, args=(port, ready), daemon=True)
    server.start()
    ready.wait(30)
    results = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            app = make_app(tmp, port)
            queue(app, 100)
            bare_loop(port, queued_parts(app))  # warm up
            drain(app, 100)
            for _ in range(args.rounds):
                queue(app, per_round)
                mails = queued_parts(app)
                results.append((bare_loop(port, mails), bare_bytes(port, mails),
                                drain(app, per_round)))
            batch = app.config["OUTBOX_BATCH_SIZE"]
    finally:
        server.kill()
    bare, floor, ours = (statistics.median(column) for column in zip(*results, strict=True))
    ratio = statistics.median(o / b for b, _, o in results)
    to_floor = statistics.median(o / f for _, f, o in results)
    print(f"kaal smtplib, bouwt elk bericht   {bare:7.0f} mails/s")
    print(f"kaal smtplib, kant-en-klare bytes {floor:7.0f} mails/s   (alleen transport)")
    print(f"outbox (send_due_mail-rondes)     {ours:7.0f} mails/s   ({args.rounds} rondes van "
          f"{per_round} mails, batch {batch}; medianen)")
    verdict = "gehaald" if ratio >= TARGET else "NIET gehaald"
    print(f"verhouding {ratio:.2f} t.o.v. de kale lus (doel ≥ {TARGET}: {verdict}); "
          f"{to_floor:.2f} t.o.v. alleen transport", flush=True)
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
