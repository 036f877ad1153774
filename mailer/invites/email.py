"""The invitation email: what it says, the signed values between preview and send, opting out."""

import secrets
from datetime import timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from flask import current_app
from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer
from sqlalchemy import text

from .. import sql
from ..extensions import db
from ..limits import hit_all, hit_together, take_back
from ..models import OptOut, OutboxMail, utcnow
from ..outbox import outbox_row, render_mail
from ..security import keyed_hash
from ..writes import write

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def sign_pending(pending: dict, started: str | None) -> str:
    """Sign the checked values for the preview's hidden field; a nonce makes each one unique."""
    payload = {**pending, "started": started, "nonce": secrets.token_urlsafe(16)}
    return _pending_serializer().dumps(payload)


def load_pending(value: str | None) -> dict | None:
    """The values signed by `sign_pending`, or None when forged or too old."""
    try:
        return _pending_serializer().loads(
            value or "", max_age=current_app.config["INVITE_PREVIEW_MAX_AGE"]
        )
    except BadSignature:  # includes SignatureExpired
        return None


def _pending_serializer() -> URLSafeTimedSerializer:
    """The serializer for the preview's values."""
    return _made_once(URLSafeTimedSerializer, current_app.secret_key, "invite-preview")


@lru_cache(maxsize=16)
def _made_once(kind: type, secret_key: str, salt: str):
    """One serializer or signer per key and salt: making one costs more than using it."""
    return kind(secret_key, salt=salt)


def opt_out_token(address: str) -> str:
    """The opt-out link's token: the address's keyed hash, signed, so no address is in the URL."""
    return _opt_out_signer().sign(keyed_hash(address)).decode()


def opted_out_hash(token: str) -> str | None:
    """The keyed hash inside an opt-out token, or None if the token was not made by us."""
    try:
        return _opt_out_signer().unsign(token).decode()
    except BadSignature:
        return None


def _opt_out_signer() -> Signer:
    """The signer for opt-out tokens."""
    return _made_once(Signer, current_app.secret_key, "invite-opt-out")


def opt_out(address_hash: str) -> None:
    """Record that an address wants no more tips; recording it twice changes nothing."""
    if db.session.get(OptOut, address_hash) is None:
        db.session.add(OptOut(address_hash=address_hash))


def invitation(pending: dict, address: str) -> dict:
    """Everything about the mail to one colleague: sender, recipient, subject, headers, context."""
    site_url = current_app.config["SITE_URL"]
    opt_out_url = f"{site_url}/tip-een-collega/afmelden/{opt_out_token(address)}"
    name = f"{pending['voornaam']} {pending['achternaam']}"
    return {
        "sender": current_app.config["MAIL_DEFAULT_SENDER"],
        "to": address,
        "subject": f"Tip van {name}: sociaal incassobeleid",
        "headers": {
            "List-Unsubscribe": f"<{opt_out_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        "context": {
            "voornaam": pending["voornaam"],
            "achternaam": pending["achternaam"],
            "site_url": site_url,
            "site_host": urlsplit(site_url).netloc,
            "opt_out_url": opt_out_url,
        },
    }


def preview(pending: dict) -> list[dict]:
    """Each colleague's mail as it will be sent: sender, recipient, subject and the text part."""
    mails = []
    for address in pending["to"]:
        mail = invitation(pending, address)
        mail["text"], _ = render_mail("invitation", **mail["context"])
        mails.append(mail)
    return mails


SENT, REPEAT, LIMITED = "sent", "repeat", "limited"


def invitation_rows(pending: dict) -> list[dict]:
    """Each colleague's outbox row: the work of a submit that needs no database.

    Writes share one transaction (`writes.write`), so keyed hashes and opt-out links are made
    here, before it, for every colleague, even one that turns out to be skipped. The worker
    renders the mail from the same values `preview` renders it from.
    """
    rows = []
    for address in pending["to"]:
        mail = invitation(pending, address)
        row = outbox_row("invitation", address, mail["subject"], "invitation",
                         headers=mail["headers"], **mail["context"])
        row["domain_hash"] = keyed_hash(address.rpartition("@")[2], "domain")
        rows.append(row)
    return rows


def queue_invitations(pending: dict, rows: list[dict], client_key: str, cursor) -> str:
    """Queue the rows of `invitation_rows` on `cursor`'s transaction; SENT, REPEAT or LIMITED.

    Opted-out colleagues and a colleague tipped in the last 30 days are skipped without a word,
    and a preview sent twice is a REPEAT: telling the sender would reveal something about the
    colleague. LIMITED (the sender must wait) and REPEAT leave counted events for a rollback.
    Only SQL runs here: it runs inside the shared write transaction (`writes.write`).
    """
    opted_out = _opted_out([row["recipient_hash"] for row in rows], cursor)
    candidates = [row for row in rows if row["recipient_hash"] not in opted_out]
    # One round for every limit: domain and total assume each candidate gets a mail, which is
    # almost always so; `_recount_shared` corrects them when a colleague was tipped recently.
    once, ip, *results = hit_all(_limits(pending, candidates, client_key), cursor)
    if not once:
        return REPEAT
    if not ip:
        return LIMITED
    fresh, shared = results[:len(candidates)], results[len(candidates):]
    recipients = [row for row, ok in zip(candidates, fresh, strict=True) if ok]
    if len(recipients) < len(candidates):
        shared = _recount_shared(candidates, shared, recipients, cursor)
    if not all(shared):
        return LIMITED
    _insert(recipients, cursor)
    return SENT


def send_invitations(pending: dict, rows: list[dict], client_key: str) -> str:
    """Queue one submit's mails in the shared write transaction; SENT, REPEAT or LIMITED.

    Returns once they are committed. On SQLite the batch is first tried with `queue_together`;
    a REPEAT or LIMITED submit leaves nothing behind (its savepoint is rolled back).
    """
    submit = (pending, rows, client_key)
    return write(lambda cursor: queue_invitations(*submit, cursor),
                 keep=lambda outcome: outcome == SENT, together=(queue_together, submit))


def queue_together(submits: list[tuple[dict, list[dict], str]], cursor) -> list[str] | None:
    """Queue several submits (`queue_invitations`'s arguments) at once: SENT for each, or None.

    The shared write transaction tries this first on SQLite: four statements for the whole
    batch, whatever its size. It covers the usual case, in which nobody opted out and every
    limit has room; None (anything else) makes the caller roll back and run the submits one
    by one with `queue_invitations`.
    """
    rows = [row for _, submit_rows, _ in submits for row in submit_rows]
    if _opted_out([row["recipient_hash"] for row in rows], cursor):
        return None
    actions = [action for pending, submit_rows, client_key in submits
               for action in _limits(pending, submit_rows, client_key)]
    if not hit_together(actions, cursor, utcnow()):
        return None
    _insert(rows, cursor)
    return [SENT] * len(submits)


def _limits(pending: dict, rows: list[dict], client_key: str) -> list:
    """Every limit a submit counts against: its preview's nonce, the client, each colleague."""
    config = current_app.config
    repeat = [(1, timedelta(days=config["INVITE_LIMIT_RECIPIENT_DAYS"]))]
    return [
        (f"invite-once:{pending['nonce']}", [(1, DAY)]),
        (f"invite-ip:{client_key}", [(config["INVITE_LIMIT_IP_HOUR"], HOUR),
                                     (config["INVITE_LIMIT_IP_DAY"], DAY)]),
        *[(f"invite-to:{row['recipient_hash']}", repeat) for row in rows],
        *_shared_limits(rows),
    ]


def _insert(rows: list[dict], cursor) -> None:
    """Put the mails of `rows` in the outbox, in one statement."""
    if rows:
        sql.insert_rows(cursor, OutboxMail.__table__,
                        [{key: value for key, value in row.items() if key != "domain_hash"}
                         for row in rows])


def _shared_limits(rows: list[dict]) -> list:
    """The domain and daily-total limits, one action each per colleague in `rows`."""
    config = current_app.config
    return [
        *[(f"invite-domain:{row['domain_hash']}", [(config["INVITE_LIMIT_DOMAIN_DAY"], DAY)])
          for row in rows],
        *[("invite-total", [(config["INVITE_LIMIT_TOTAL_DAY"], DAY)])] * len(rows),
    ]


def _recount_shared(candidates: list[dict], shared: list[bool], recipients: list[dict],
                    cursor) -> list:
    """Domain and total again, for the colleagues who really get a mail; their verdicts.

    A colleague tipped recently gets none and must not count: this call's counted events go
    (refused ones were never kept), then only the recipients are counted.
    """
    counted = [key for (key, _), ok in zip(_shared_limits(candidates), shared, strict=True) if ok]
    take_back(counted, cursor)
    return hit_all(_shared_limits(recipients), cursor) if recipients else []


def _opted_out(hashes: list[str], cursor) -> set[str]:
    """The address hashes among `hashes` that opted out."""
    found = sql.execute(cursor, _opted_out_query(len(hashes)),
                        {f"h{n}": digest for n, digest in enumerate(hashes)})
    return {digest for digest, in found}


@lru_cache(maxsize=64)
def _opted_out_query(count: int):
    """SELECT the opted-out ones among `count` address hashes."""
    names = ", ".join(f":h{n}" for n in range(count))
    return text(f"SELECT address_hash FROM opt_out WHERE address_hash IN ({names})")
