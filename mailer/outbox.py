"""The outbox: every email is stored in the database first and sent by a worker.

`queue_mail` stores an email in the outbox inside the caller's transaction, so a form that
commits has also, atomically, queued its mail. What is stored is the mail's name (its "template")
and the values it is rendered with; the worker renders it with the same `render_mail` a preview
uses, from the words in `content/mails.yml` at that moment.
`send_due_mail` claims due mails, sends them over one SMTP connection, retries temporary
failures with exponential backoff and records permanent ones. A mail is only sent twice if
the worker dies between the server's accept and its own commit.
"""

import logging
import os
import re
import smtplib
import socket
import time
from datetime import timedelta
from email import policy
from email.charset import QP, Charset
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from flask import current_app, render_template
from flask_mail import Connection, Mail, Message
from jinja2 import TemplateError
from markupsafe import Markup, escape
from sqlalchemy import delete, insert, or_, select, text, update
from sqlalchemy.exc import OperationalError

from .extensions import db
from .models import OutboxMail, utcnow
from .security import address_hash, mask_address
from .words import PLACE, MissingWords, fill, words

log = logging.getLogger(__name__)
mail = Mail()

# Defaults of the mail settings; `MAILER_*` variables and a test config override them.
DEFAULTS = {
    "MAIL_SERVER": None,  # unset: mails are written to MAIL_FILE_DIR as .eml files
    "MAIL_PORT": 25,
    "MAIL_DEFAULT_SENDER": "Schuldeiserscoalitie <noreply@schuldeiserscoalitie.nl>",
    "MAIL_TIMEOUT": 30,
    # Flask-Mail only sends when this is explicitly off in tests; the outbox decides instead.
    "MAIL_SUPPRESS_SEND": False,
    "OUTBOX_MAX_ATTEMPTS": 8,  # with backoff from 60 s this spans about four hours
    "OUTBOX_BACKOFF_SECONDS": 60,
    "OUTBOX_BATCH_SIZE": 50,
    "OUTBOX_LEASE_SECONDS": 600,  # a claimed mail left by a crashed worker is due again after this
    "OUTBOX_KEEP_DAYS": 30,  # the anonymous trace of a sent or failed mail, then deleted
    "MAIL_FILE_KEEP_DAYS": 7,  # .eml files written without a mail server, then deleted
}


class TemporaryFailure(Exception):
    """The mail may go through later: connection trouble or a 4xx answer."""


class PermanentFailure(Exception):
    """The mail will never go through: a 5xx answer or an unusable message."""


# The mails by the name the outbox stores ("template"), and their keys in content/mails.yml.
MAILS = {
    "invitation": "tip",
    "adoption_confirmation": "bevestigen",
    "adoption_approved": "goedgekeurd",
    "adoption_rejected": "afgewezen",
    "review_requested": "beoordelen",
}
# The places whose value is an address: a link in the HTML part.
LINKS = {"site", "afmeld_link", "bevestig_link", "lijst_link", "meedoen_link", "beoordeel_link"}
LINK = '<a href="{0}" style="color:#8a3b12;word-break:break-all;">{0}</a>'
# The places shown as a block of their own when a paragraph holds only them: code to copy, and
# the reason as staff wrote it.
BLOCKS = {
    "badge_code": '<pre style="white-space:pre-wrap;word-break:break-all;background:#f6f1ea;'
                  'padding:12px;font-size:13px;">{}</pre>',
    "reden": '<blockquote style="margin:0 0 16px;padding:8px 16px;'
             'border-left:4px solid #8a3b12;">{}</blockquote>',
}


def render_mail(template: str, **context) -> tuple[str, str]:
    """The exact text and HTML parts of a mail, from its words in `content/mails.yml` filled
    with the values it was queued with. The HTML is made from the same text."""
    mails, values = words("mails"), _values(context)
    mail = mails[MAILS[template]]
    if template == "adoption_approved":  # one text for a company on the public list, one not
        listed = (context.get("registration") or {}).get("list_publicly")
        text = mail["tekst_op_lijst" if listed else "tekst_niet_op_lijst"]
    else:
        text = mail["tekst"]
    text = text.rstrip()
    home = Markup('<a href="{}" style="color:#8a3b12;">{}</a>').format(values["site"],
                                                                      values["site_naam"])
    footer = Markup(fill(_lines(mails["voettekst"]), site_naam=home))
    return fill(text, **values), render_template(
        "email/_layout.html", title=_one_line(fill(mail["onderwerp"], **values)),
        body=_html(text, values), footer=footer)


def mail_subject(template: str, **context) -> str:
    """A mail's subject from `content/mails.yml`, filled with the values it is queued with."""
    return _one_line(fill(words("mails")[MAILS[template]]["onderwerp"], **_values(context)))


def _one_line(text: str) -> str:
    """Text on one line: a line break in a value cannot reach a mail header."""
    return " ".join(text.split())


def _values(context: dict) -> dict:
    """The places of `content/mails.yml` by the values a mail is queued with; mails queued
    before the words moved to that file have the same values, so they still render."""
    site = current_app.config["SITE_URL"]
    registration = context.get("registration") or {}
    values = {
        "site": f"{site}/", "site_naam": urlsplit(site).netloc, "meedoen_link": f"{site}/meedoen/",
        "voornaam": context.get("voornaam"), "achternaam": context.get("achternaam"),
        "afmeld_link": context.get("opt_out_url"),
        "contactpersoon": registration.get("contact_name"),
        "onderneming": registration.get("company_name"), "kvk": registration.get("kvk"),
        "sector": context.get("sector"), "bevestig_link": context.get("confirm_url"),
        "uren": context.get("hours"), "lijst_link": context.get("list_url"),
        "badge_code": context.get("snippet"), "reden": context.get("reason"),
        "beoordeel_link": context.get("review_url"),
    }
    if "review_url" in context:  # the review mail's answers are words of the file too
        answers = words("mails")["beoordelen"]
        values |= {"website": context.get("website") or answers["geen_website"],
                   "warm_doorverwijzen": answers["ja" if context.get("warm_referral") else "nee"],
                   "op_lijst": answers["lijst_ja" if registration.get("list_publicly") else "nee"]}
    return {name: value for name, value in values.items() if value is not None}


def _html(text: str, values: dict) -> Markup:
    """The HTML of a mail's text: a paragraph each, a line break kept, everything escaped, an
    address a link, code to copy as code."""
    inline = {name: _inline(name, str(value)) for name, value in values.items()}
    parts = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        alone = PLACE.fullmatch(paragraph.strip())
        if alone and alone[1] in BLOCKS and alone[1] in values:
            value = str(values[alone[1]])
            shown = escape(value) if alone[1] == "badge_code" else _lines(value)
            parts.append(Markup(BLOCKS[alone[1]]).format(shown))
        else:
            parts.append(f"<p>{fill(_lines(paragraph), **inline)}</p>")
    return Markup("\n".join(parts))


def _inline(name: str, value: str) -> Markup:
    """A value as HTML within a paragraph."""
    if name in LINKS and re.fullmatch(r"https?://\S+", value):
        return Markup(LINK).format(value)
    if name == "badge_code":
        return Markup("<code>{}</code>").format(value)
    return _lines(value)


def _lines(text: str) -> Markup:
    """Text escaped, its line breaks kept as <br>."""
    return Markup("<br>\n").join(escape(line) for line in re.split(r"\r\n|\r|\n", text))


def queue_mail(kind: str, to: str, subject: str, template: str,
               headers: dict[str, str] | None = None, **context) -> None:
    """Add an email to the outbox; the caller's commit makes it due.

    `context` holds the template's values and is stored as JSON, so it takes plain values
    (strings, numbers, lists, dicts), not database objects.
    """
    queue_mails([outbox_row(kind, to, subject, template, headers, **context)])


def queue_mails(rows: list[dict]) -> None:
    """Add the emails made by `outbox_row` to the outbox, in one statement."""
    if rows:
        db.session.execute(insert(OutboxMail.__table__), rows)


def outbox_row(kind: str, to: str, subject: str, template: str,
               headers: dict[str, str] | None = None, **context) -> dict:
    """The outbox columns of one email: the worker renders it from its template and values."""
    domain = urlsplit(current_app.config["SITE_URL"]).hostname or "localhost"
    now = utcnow()
    return {"kind": kind, "status": "queued", "recipient": to, "recipient_hash": address_hash(to),
            "subject": subject, "template": template, "context": context,
            "headers": headers or None, "message_id": make_msgid(domain=domain), "attempts": 0,
            "next_attempt_at": now, "created_at": now}


SMTP_AS_IS = policy.compat32.clone(linesep="\r\n", max_line_length=0)
MAX_LINE = 998  # bytes, without the line end (RFC 5322, 2.1.1)
QUOTED_PRINTABLE = Charset("utf-8")
QUOTED_PRINTABLE.body_encoding = QP


class OutboxMessage(Message):
    """Flask-Mail's message, with long headers folded as RFC 5322 allows instead of encoded."""

    def _message(self):
        """The MIME message, generated without refolding its (already encoded) headers."""
        msg = super()._message()
        # Flask-Mail's SMTP policy refolds at 78 and so turns a long List-Unsubscribe URL into
        # encoded words, which mail clients do not read as a URL; it is also most of the cost
        # of sending. Every header here is ASCII already (Flask-Mail encodes the subject) and
        # far below the 998 limit, so the plain policy with CRLF line ends writes them as is.
        msg.policy = SMTP_AS_IS
        if isinstance(self.sender, str) and self.sender.isascii():
            # Flask-Mail encodes even a plain ASCII name; the configured sender needs none of it.
            msg.replace_header("From", self.sender)
        for part in msg.walk():
            # Flask-Mail sends text as 8bit, unwrapped. A line over RFC 5322's 998 bytes (a long
            # reason, a badge code with a long name) makes servers refuse the mail or cut it:
            # such a part goes as quoted-printable, whose lines are short.
            body = part.get_payload(decode=True) if not part.is_multipart() else None
            if body and max(len(line) for line in body.splitlines()) > MAX_LINE:
                del part["Content-Transfer-Encoding"]
                part.set_payload(body.decode(part.get_content_charset()), QUOTED_PRINTABLE)
        return msg


def build_message(row) -> Message:
    """The Flask-Mail message for an outbox row (or a row of its columns), rendered now."""
    if row.template not in MAILS:
        raise PermanentFailure(f"sjabloon {row.template}: geen e-mail in content/mails.yml"[:255])
    try:
        text_body, html_body = render_mail(row.template, **(row.context or {}))
    except TemplateError as error:
        raise PermanentFailure(f"sjabloon {row.template}: {error}"[:255]) from error
    except (MissingWords, OSError, ValueError, yaml.YAMLError) as error:
        # A word missing from content/mails.yml, or a file that does not read: the mail waits
        # (and is tried again) until staff have put it right.
        log.error("Outbox: mail %s: %s", row.id, error)
        raise TemporaryFailure(str(error)[:255]) from None
    message = OutboxMessage(
        subject=row.subject,
        recipients=[row.recipient],
        body=text_body,
        html=html_body,
        sender=current_app.config["MAIL_DEFAULT_SENDER"],
        extra_headers=dict(row.headers or {}),
        charset="utf-8",
    )
    message.msgId = row.message_id
    if message.has_bad_headers():
        raise PermanentFailure("ongeldige header")
    return message


def send_due_mail(now=None) -> dict[str, int]:
    """Send one batch of due mail; returns how many were sent, retried and failed.

    Whatever goes wrong with one mail is that mail's failure, counted like any other; the
    batch goes on with the next, over a fresh connection if the error may have left the old
    one halfway a message.
    """
    now = now or utcnow()
    counts = {"sent": 0, "retried": 0, "failed": 0}
    rows = _claim_batch(now, counts)
    if not rows:
        return counts
    try:
        transport = _transport().open()
    except TemporaryFailure as error:  # no connection at all
        for row in rows:
            counts[_retry_later(row, str(error), now)[0]] += 1
        db.session.commit()
        return counts
    try:
        for index, row in enumerate(rows):
            try:
                transport = transport or _transport().open()
                transport.send(build_message(row))
            except TemporaryFailure as error:
                outcome, when = _retry_later(row, str(error), now)
                counts[outcome] += 1
                if isinstance(error.__cause__, (OSError, smtplib.SMTPServerDisconnected)):
                    # The connection is gone: hand the rest of the batch back untouched.
                    _release([later.id for later in rows[index + 1 :]], when or now)
                    db.session.commit()
                    break
            except PermanentFailure as error:
                _finish(row.id, "failed", str(error))
                counts["failed"] += 1
            except (UnicodeError, ValueError) as error:  # a message that can never be written
                log.warning("Outbox: mail %s kan niet worden verstuurd: %s", row.id,
                            type(error).__name__)
                _finish(row.id, "failed", f"onbruikbaar bericht: {type(error).__name__}")
                counts["failed"] += 1
                transport = transport.close() if transport else None
            except Exception as error:  # anything else: this mail's failure, tried again later
                log.exception("Outbox: onverwachte fout bij mail %s", row.id)
                counts[_retry_later(row, f"onverwachte fout: {type(error).__name__}", now)[0]] += 1
                transport = transport.close() if transport else None
            else:
                _finish(row.id, "sent")
                counts["sent"] += 1
            # One commit per mail: a crash now can only resend the mail in hand.
            db.session.commit()
    finally:
        if transport:
            transport.close()
    _flush_erased_pages()
    return counts


def run_worker(poll_seconds: float = 2.0, stop=lambda: False, hourly=lambda: None) -> None:
    """Send due mail until `stop()` is true, sleeping between empty rounds; `hourly()` hourly."""
    hourly_at = None
    while not stop():
        if hourly_at is None or time.monotonic() - hourly_at > 3600:
            hourly()
            hourly_at = time.monotonic()
        counts = send_due_mail()
        if any(counts.values()):
            log.info("Outbox: %(sent)d verstuurd, %(retried)d later opnieuw, %(failed)d mislukt",
                     counts)
        else:
            time.sleep(poll_seconds)


def purge_finished() -> int:
    """Delete what the privacy page says goes: sent and failed mails after `OUTBOX_KEEP_DAYS`,
    and .eml files written without a mail server after `MAIL_FILE_KEEP_DAYS`. Returns how many."""
    config = current_app.config
    since = utcnow() - timedelta(days=config["OUTBOX_KEEP_DAYS"])
    deleted = db.session.execute(
        delete(OutboxMail).where(OutboxMail.status.in_(["sent", "failed"]),
                                 OutboxMail.finished_at <= since)
    ).rowcount
    oldest = time.time() - config["MAIL_FILE_KEEP_DAYS"] * 86400
    folder = Path(config["MAIL_FILE_DIR"])
    for path in folder.glob("*.eml") if folder.is_dir() else []:
        if path.stat().st_mtime < oldest:
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted


def _claim_batch(now, counts: dict) -> list:
    """Mark due mails as being sent by this worker and return them; other workers skip them.

    The claim counts the attempt: a mail whose sending kills the worker is claimed again
    after its lease, and given up (counted in `counts` as failed) after the last attempt.
    """
    config = current_app.config
    due = or_(
        (OutboxMail.status == "queued") & (OutboxMail.next_attempt_at <= now),
        (OutboxMail.status == "sending") & (OutboxMail.locked_until <= now),  # left by a crash
    )
    query = (select(OutboxMail.id).where(due).order_by(OutboxMail.next_attempt_at)
             .limit(config["OUTBOX_BATCH_SIZE"]).with_for_update(skip_locked=True))
    ids = list(db.session.scalars(query))
    if not ids:
        db.session.commit()
        return []
    # The condition is repeated so the claim is safe on SQLite too, which has no row locks.
    # Plain rows, not ORM objects: they stay readable after each commit without a reload.
    claimed = db.session.execute(
        update(OutboxMail).where(OutboxMail.id.in_(ids), due)
        .values(status="sending", attempts=OutboxMail.attempts + 1,
                locked_until=now + timedelta(seconds=config["OUTBOX_LEASE_SECONDS"]))
        .returning(OutboxMail.id, OutboxMail.recipient, OutboxMail.subject,
                   OutboxMail.template, OutboxMail.context, OutboxMail.headers,
                   OutboxMail.message_id, OutboxMail.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    exhausted = [row for row in claimed if row.attempts > config["OUTBOX_MAX_ATTEMPTS"]]
    for row in exhausted:
        _finish(row.id, "failed", "te vaak geprobeerd")
    counts["failed"] += len(exhausted)
    db.session.commit()
    order = {row_id: n for n, row_id in enumerate(ids)}
    return sorted((row for row in claimed if row not in exhausted), key=lambda row: order[row.id])


def _retry_later(row, error: str, now) -> tuple[str, object]:
    """Count a temporary failure: back off exponentially, or give up after the last attempt.

    Returns "retried" and the next attempt's time, or "failed" and None.
    """
    config = current_app.config
    attempts = row.attempts  # counted when it was claimed
    if attempts >= config["OUTBOX_MAX_ATTEMPTS"]:
        _finish(row.id, "failed", error)
        return "failed", None
    when = now + timedelta(seconds=config["OUTBOX_BACKOFF_SECONDS"] * 2 ** (attempts - 1))
    db.session.execute(
        update(OutboxMail).where(OutboxMail.id == row.id)
        .values(status="queued", next_attempt_at=when, locked_until=None,
                last_error=error[:255])
        .execution_options(synchronize_session=False)
    )
    return "retried", when


def _release(ids: list[int], when) -> None:
    """Put claimed mails back in the queue, their claim's attempt not counted."""
    if ids:
        db.session.execute(
            update(OutboxMail).where(OutboxMail.id.in_(ids))
            .values(status="queued", locked_until=None, next_attempt_at=when,
                    attempts=OutboxMail.attempts - 1)
            .execution_options(synchronize_session=False)
        )


def _finish(row_id: int, status: str, error: str | None = None, **values) -> None:
    """Close a mail for good and erase everything personal from it."""
    db.session.execute(
        update(OutboxMail).where(OutboxMail.id == row_id)
        .values(status=status, finished_at=utcnow(), locked_until=None,
                last_error=error[:255] if error else None, recipient=None, subject=None,
                context=None, headers=None, **values)
        .execution_options(synchronize_session=False)
    )


def _flush_erased_pages() -> None:
    """On SQLite, move erased pages out of the write-ahead log so no copy stays on disk."""
    if db.engine.dialect.name != "sqlite":
        return
    try:
        db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.session.commit()
    except OperationalError:
        # A busy database only delays this: the next round checkpoints again.
        db.session.rollback()
        log.warning("Outbox: WAL-checkpoint uitgesteld, database bezet")


def _transport():
    """SMTP when a mail server is configured, otherwise .eml files in the instance folder."""
    if current_app.config.get("MAIL_SERVER"):
        return SmtpTransport()
    return FileTransport(Path(current_app.config["MAIL_FILE_DIR"]))


class SmtpTransport:
    """One SMTP connection for a whole batch, with Flask-Mail's TLS, SSL and login settings."""

    def open(self):
        """Connect (and log in); TemporaryFailure when that does not work."""
        try:
            self.connection = TimedConnection(current_app.extensions["mail"]).__enter__()
        except (OSError, smtplib.SMTPException) as error:
            raise TemporaryFailure(_describe(error)) from error
        return self

    def close(self) -> None:
        """Say goodbye to the server; a failed goodbye changes nothing (the mails are recorded)."""
        try:
            if self.connection.host is not None:
                self.connection.host.quit()
        except (OSError, smtplib.SMTPException):
            self.connection.host.close()

    def send(self, message: Message) -> None:
        """Send one message; classify what goes wrong as temporary or permanent."""
        try:
            self.connection.send(message)
        except smtplib.SMTPRecipientsRefused as error:
            code = min(code for code, _ in error.recipients.values())
            raise (PermanentFailure if code >= 500 else TemporaryFailure)(f"SMTP {code}") from None
        except smtplib.SMTPResponseException as error:
            failure = PermanentFailure if error.smtp_code >= 500 else TemporaryFailure
            raise failure(f"SMTP {error.smtp_code}") from None
        except (OSError, smtplib.SMTPException) as error:
            raise TemporaryFailure(_describe(error)) from error


class TimedConnection(Connection):
    """Flask-Mail's connection with a socket timeout: a hanging server cannot stall the worker."""

    def configure_host(self):
        """Open the connection as Flask-Mail does, with `MAIL_TIMEOUT` on the socket."""
        timeout = current_app.config["MAIL_TIMEOUT"]
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(timeout)
        try:
            return super().configure_host()
        finally:
            socket.setdefaulttimeout(previous)


class FileTransport:
    """Write each mail as an .eml file: the whole flow works without a mail server."""

    def __init__(self, folder: Path):
        self.folder = folder

    def open(self):
        """Make sure the folder is there, for its owner only."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self

    def close(self) -> None:
        """Nothing to close."""

    def send(self, message: Message) -> None:
        """Store the message and log where, with the address masked."""
        message.date = time.time()
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{message.msgId.strip('<>').split('@')[0]}.eml"
        data = message.as_bytes()
        # Readable by the owner only: the file holds a name and an address.
        with os.fdopen(os.open(self.folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600),
                       "wb") as file:
            file.write(data)
        log.info("Mail aan %s opgeslagen als %s", mask_address(message.recipients[0]),
                    self.folder / name)


def _describe(error: Exception) -> str:
    """A short error description without any address in it."""
    return type(error).__name__
