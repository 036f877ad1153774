"""The outbox against a real SMTP server: outages, temporary and permanent refusals, crashes."""

import asyncio
import logging
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from conftest import free_port
from sqlalchemy import func, select

from mailer import create_app
from mailer.extensions import db
from mailer.limits import count
from mailer.models import OutboxMail, RateEvent, utcnow
from mailer.outbox import SmtpTransport, queue_mail, run_worker, send_due_mail


def restart(smtp) -> None:
    """Start a stopped test server again on the same port (a stopped controller cannot)."""
    smtp.controller = Controller(smtp, hostname="127.0.0.1", port=smtp.port)
    smtp.start()


def queue(app, *addresses: str) -> None:
    """Queue one small invitation per address and commit."""
    with app.app_context():
        for address in addresses:
            queue_mail("invitation", address, "Tip van Jan Jansen", "invitation",
                       headers={"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
                       voornaam="Jan", achternaam="Jansen", site_url="https://s.test",
                       site_host="s.test", opt_out_url="https://s.test/afmelden/x")
        db.session.commit()


def rows(app) -> list[OutboxMail]:
    """Every outbox row, detached for reading."""
    with app.app_context():
        found = db.session.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
        db.session.expunge_all()
        return found


def round_at(app, seconds: float = 0) -> dict:
    """Run one worker round as if `seconds` had passed."""
    with app.app_context():
        return send_due_mail(utcnow() + timedelta(seconds=seconds))


def test_a_round_sends_due_mail_once_and_erases_it(app, smtp):
    queue(app, "a@example.nl", "b@example.nl")
    assert round_at(app) == {"sent": 2, "retried": 0, "failed": 0}
    assert round_at(app) == {"sent": 0, "retried": 0, "failed": 0}
    assert sorted(mail["To"] for mail in smtp.messages) == ["a@example.nl", "b@example.nl"]
    for row in rows(app):
        assert row.status == "sent" and row.finished_at
        assert row.recipient is row.subject is row.context is row.headers is None
        assert len(row.recipient_hash) == 64


def test_server_down_while_queued_then_up_delivers_once(app, smtp):
    queue(app, "a@example.nl")
    smtp.stop()
    assert round_at(app) == {"sent": 0, "retried": 1, "failed": 0}
    [row] = rows(app)
    assert row.status == "queued" and row.attempts == 1 and row.recipient == "a@example.nl"
    restart(smtp)
    assert round_at(app)["sent"] == 0  # still backing off
    assert round_at(app, 61)["sent"] == 1
    assert round_at(app, 3600)["sent"] == 0
    assert [mail["To"] for mail in smtp.messages] == ["a@example.nl"]


def test_temporary_refusal_is_retried_with_growing_delays(app, smtp):
    queue(app, "a@example.nl")
    smtp.reply = "451 4.3.0 Probeer het later"
    assert round_at(app)["retried"] == 1
    first = rows(app)[0].next_attempt_at
    assert round_at(app, 61)["retried"] == 1
    second = rows(app)[0].next_attempt_at
    assert second - first > timedelta(seconds=100)  # 60 s, then 120 s
    assert rows(app)[0].last_error == "SMTP 451"
    smtp.reply = None
    assert round_at(app, 61 + 121)["sent"] == 1
    assert len(smtp.messages) == 1


def test_temporary_refusals_give_up_after_the_last_attempt(app, smtp):
    app.config["OUTBOX_MAX_ATTEMPTS"] = 3
    queue(app, "a@example.nl")
    smtp.reply = "421 4.7.0 Te druk"
    results = [round_at(app, 10**5 * n) for n in range(5)]
    assert [r["retried"] for r in results] == [1, 1, 0, 0, 0]
    assert [r["failed"] for r in results] == [0, 0, 1, 0, 0]
    [row] = rows(app)
    assert row.status == "failed" and row.attempts == 3 and row.recipient is None


def test_permanent_refusal_fails_at_once_and_is_never_retried(app, smtp):
    queue(app, "a@example.nl", "b@example.nl")
    smtp.reply = "550 5.1.1 Onbekende ontvanger"
    assert round_at(app) == {"sent": 0, "retried": 0, "failed": 2}
    smtp.reply = None
    assert round_at(app, 10**6) == {"sent": 0, "retried": 0, "failed": 0}
    assert smtp.messages == []
    for row in rows(app):
        assert row.status == "failed" and row.attempts == 1 and row.last_error == "SMTP 550"
        assert row.recipient is None and row.context is None


def test_a_mail_whose_template_is_missing_fails_at_once_and_the_rest_goes(app, smtp):
    with app.app_context():
        queue_mail("invitation", "weg@example.nl", "Tip", "bestaat_niet", voornaam="Jan")
        db.session.commit()
    queue(app, "b@example.nl")
    assert round_at(app) == {"sent": 1, "retried": 0, "failed": 1}
    assert [mail["To"] for mail in smtp.messages] == ["b@example.nl"]
    broken = rows(app)[0]
    assert broken.status == "failed" and broken.last_error.startswith("sjabloon bestaat_niet")
    assert broken.recipient is None and broken.context is None


def test_a_dropped_connection_hands_the_rest_of_the_batch_back(app, smtp):
    queue(app, "a@example.nl", "b@example.nl", "c@example.nl")
    smtp.reply = "421 4.3.2 Server sluit af"  # smtplib closes the connection after a 421
    assert round_at(app) == {"sent": 0, "retried": 2, "failed": 0}
    assert [row.attempts for row in rows(app)] == [1, 1, 0]  # the third was never tried
    smtp.reply = None
    assert round_at(app, 61)["sent"] == 3
    assert len(smtp.messages) == 3


def test_a_server_that_never_answers_times_out(app, smtp):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        # Flask-Mail reads its server settings when the app is made.
        app = create_app({**app.config, "MAIL_PORT": silent.getsockname()[1], "MAIL_TIMEOUT": 0.5})
        queue(app, "a@example.nl")
        assert round_at(app) == {"sent": 0, "retried": 1, "failed": 0}
    assert rows(app)[0].last_error in ("TimeoutError", "SMTPServerDisconnected")


class Crash(BaseException):
    """The worker process dying: nothing after it runs, no handler catches it."""


def test_a_worker_killed_mid_batch_loses_nothing(app, smtp, monkeypatch):
    app.config["OUTBOX_LEASE_SECONDS"] = 30
    addresses = [f"c{n}@example.nl" for n in range(5)]
    queue(app, *addresses)
    real_send = SmtpTransport.send
    sent = []

    def dying_send(self, message):
        if len(sent) == 2:
            raise Crash
        real_send(self, message)
        sent.append(message)

    monkeypatch.setattr(SmtpTransport, "send", dying_send)
    with app.app_context(), pytest.raises(Crash):
        send_due_mail()
    monkeypatch.setattr(SmtpTransport, "send", real_send)

    assert [row.status for row in rows(app)] == ["sent"] * 2 + ["sending"] * 3
    assert round_at(app)["sent"] == 0  # another worker leaves leased mail alone
    assert round_at(app, 31)["sent"] == 3  # the lease ran out: the mail is due again
    assert sorted(mail["To"] for mail in smtp.messages) == addresses
    assert len({mail["Message-ID"] for mail in smtp.messages}) == 5


def test_without_a_mail_server_mail_is_written_as_eml_files(app, tmp_path, caplog):
    app.config.update(MAIL_SERVER=None, MAIL_FILE_DIR=str(tmp_path / "mail"))
    queue(app, "jansen@example.nl")
    with caplog.at_level(logging.INFO, logger="mailer.outbox"):
        assert round_at(app)["sent"] == 1
    [eml] = (tmp_path / "mail").glob("*.eml")
    content = eml.read_bytes()
    assert b"To: jansen@example.nl" in content and b"Message-ID: <" in content
    assert "j***@example.nl" in caplog.text and "jansen@" not in caplog.text


def test_the_worker_forgets_old_rate_events_and_expired_registrations(app, smtp):
    from mailer.cli import housekeeping
    from mailer.models import Registration

    with app.app_context():
        db.session.add_all([RateEvent(key="k", at=utcnow() - timedelta(days=40)),
                            RateEvent(key="k", at=utcnow())])
        db.session.add(Registration(
            company_name="Vergeten BV", kvk="11223344", sector="overig", contact_name="A",
            contact_email="a@example.nl", token_expires_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
        rounds = []
        run_worker(poll_seconds=0, stop=lambda: rounds.append(1) or len(rounds) > 1,
                   hourly=housekeeping)
        assert count("k", timedelta(days=90)) == 1
        assert db.session.scalar(select(func.count()).select_from(Registration)) == 0


class SlowServer:
    """An SMTP server that takes a while over each message, so a worker can be caught mid-batch."""

    def __init__(self, port: int):
        self.recipients: list[str] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server, session, envelope):
        """Keep the recipient, after a pause."""
        await asyncio.sleep(0.2)
        self.recipients.extend(envelope.rcpt_tos)
        return "250 OK"


def test_the_mailer_worker_process_killed_mid_batch_loses_nothing(app, tmp_path):
    slow = SlowServer(free_port())
    slow.controller.start()
    addresses = [f"c{n}@example.nl" for n in range(8)]
    queue(app, *addresses)
    env = {**os.environ,
           "MAILER_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
           "MAILER_SECRET_KEY": app.config["SECRET_KEY"], "MAILER_MAIL_SERVER": "127.0.0.1",
           "MAILER_MAIL_PORT": str(slow.controller.port), "MAILER_OUTBOX_LEASE_SECONDS": "2"}
    worker = subprocess.Popen([str(Path(sys.executable).parent / "mailer"), "worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while len(slow.recipients) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.kill()  # SIGKILL: no handler, no goodbye, mid-batch
        worker.wait()
    assert 3 <= len(slow.recipients) < len(addresses)

    app = create_app({**app.config, "MAIL_PORT": slow.controller.port})
    assert round_at(app)["sent"] == 0  # the rest is leased to the dead worker for now
    while round_at(app, 3)["sent"]:
        pass
    slow.controller.stop()
    assert sorted(set(slow.recipients)) == addresses
    # Only the mail in hand at the kill can go twice: accepted, but not yet recorded.
    assert len(slow.recipients) <= len(addresses) + 1
    assert {row.status for row in rows(app)} == {"sent"}


@pytest.mark.parametrize("transport", ["smtp", "file"])
def test_an_unsendable_address_among_good_mails_fails_alone(make_app, smtp, tmp_path, transport):
    """A row the SMTP layer cannot encode (stored before the forms refused such addresses)."""
    settings = {} if transport == "smtp" else {"MAIL_SERVER": None,
                                               "MAIL_FILE_DIR": str(tmp_path / "mail")}
    app = make_app(**settings)
    queue(app, "a@example.nl", "jürgen@example.nl", "b@example.nl", "c@example.nl")
    assert round_at(app) == {"sent": 3, "retried": 0, "failed": 1}
    assert round_at(app, 10**6) == {"sent": 0, "retried": 0, "failed": 0}
    if transport == "smtp":
        assert sorted(mail["To"] for mail in smtp.messages) == [
            "a@example.nl", "b@example.nl", "c@example.nl"]
    else:
        assert len(list((tmp_path / "mail").glob("*.eml"))) == 3
    failed = [row for row in rows(app) if row.status == "failed"]
    assert len(failed) == 1 and failed[0].recipient is None and failed[0].context is None


def test_a_mail_that_kills_the_worker_is_given_up_after_the_last_attempt(app, smtp):
    """Each claim counts an attempt: a worker that dies mid-send cannot retry a mail forever."""
    app.config.update(OUTBOX_MAX_ATTEMPTS=3, OUTBOX_LEASE_SECONDS=60)
    queue(app, "a@example.nl")
    for crash in range(3):
        with app.app_context():
            claimed = __import__("mailer.outbox", fromlist=["_claim_batch"])._claim_batch(
                utcnow() + timedelta(minutes=2 * crash), {"failed": 0})
        assert len(claimed) == 1  # claimed, then the worker "dies" before it records anything
    assert round_at(app, 600) == {"sent": 0, "retried": 0, "failed": 1}
    assert smtp.messages == []
    assert rows(app)[0].status == "failed" and rows(app)[0].recipient is None
