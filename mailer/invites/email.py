"""The invitation email: what it says, the signed values between preview and send, queueing it
within the limits, and opting out."""

import secrets
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature
from sqlalchemy import bindparam, text

from .. import limits
from ..extensions import db
from ..models import OptOut
from ..outbox import mail_subject, outbox_row, queue_mails, render_mail
from ..security import address_hash, keyed_hash, serializer

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
SENT, REPEAT, LIMITED = "sent", "repeat", "limited"


def sign_pending(pending: dict, started: str | None) -> str:
    """Sign the checked values for the preview's hidden field; a nonce makes each one unique."""
    payload = {**pending, "started": started, "nonce": secrets.token_urlsafe(16)}
    return serializer("invite-preview", timed=True).dumps(payload)


def load_pending(value: str | None) -> dict | None:
    """The values signed by `sign_pending`, or None when forged or too old."""
    try:
        return serializer("invite-preview", timed=True).loads(
            value or "", max_age=current_app.config["INVITE_PREVIEW_MAX_AGE"]
        )
    except BadSignature:  # includes SignatureExpired
        return None


def opt_out_token(address: str) -> str:
    """The opt-out link's token: the address's keyed hash, signed, so no address is in the URL."""
    return serializer("invite-opt-out").dumps(address_hash(address))


def opted_out_hash(token: str) -> str | None:
    """The keyed hash inside an opt-out token, or None if the token was not made by us."""
    try:
        value = serializer("invite-opt-out").loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def opt_out(address_hash: str) -> None:
    """Record that an address wants no more tips; recording it twice changes nothing."""
    if db.session.get(OptOut, address_hash) is None:
        db.session.add(OptOut(address_hash=address_hash))


def invitation(pending: dict, address: str) -> dict:
    """Everything about the mail to one colleague: sender, recipient, subject, headers, context.

    Its subject and text are those of `tip` in `content/mails.yml`."""
    opt_out_url = (f"{current_app.config['SITE_URL']}/tip-een-collega/afmelden/"
                   f"{opt_out_token(address)}")
    context = {"voornaam": pending["voornaam"], "achternaam": pending["achternaam"],
               "opt_out_url": opt_out_url}
    return {
        "sender": current_app.config["MAIL_DEFAULT_SENDER"],
        "to": address,
        "subject": mail_subject("invitation", **context),
        "headers": {
            "List-Unsubscribe": f"<{opt_out_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        "context": context,
    }


def preview(pending: dict) -> list[dict]:
    """Each colleague's mail as it will be sent: sender, recipient, subject and the text part."""
    mails = []
    for address in pending["to"]:
        mail = invitation(pending, address)
        mail["text"], _ = render_mail("invitation", **mail["context"])
        mails.append(mail)
    return mails


def queue_invitations(pending: dict, client_key: str) -> str:
    """Queue a previewed submit's mails in the session's transaction; SENT, REPEAT or LIMITED.

    Opted-out colleagues and a colleague tipped in the last 30 days are skipped without a word,
    and a preview sent twice is a REPEAT: telling the sender would reveal something about the
    colleague. Only SENT counts anything; the caller commits.
    """
    rows = [outbox_row("invitation", address, mail["subject"], "invitation",
                       headers=mail["headers"], **mail["context"])
            for address, mail in ((to, invitation(pending, to)) for to in pending["to"])]
    once, ip = f"invite-once:{pending['nonce']}", f"invite-ip:{client_key}"
    limits.begin([once, ip, *(key for row in rows for key in _row_keys(row, client_key))])
    opted_out = {digest for digest, in db.session.execute(
        OPTED_OUT, {"hashes": [row["recipient_hash"] for row in rows]})}
    recipients = [row for row in rows if row["recipient_hash"] not in opted_out]
    # The daily total is shared by every submit: locked last, after this submit's own keys,
    # so it is held only from here to the commit.
    limits.begin(["invite-total"])
    while True:
        refused = limits.take(_limits(once, ip, client_key, recipients))
        tipped = [row for row in recipients if _row_keys(row, client_key)[0] in refused]
        if not tipped:
            break
        # Tipped recently: skipped without a word; nothing was counted, so count the rest.
        recipients = [row for row in recipients if row not in tipped]
    if once in refused:
        return REPEAT
    if refused:
        return LIMITED
    queue_mails(recipients)
    return SENT


OPTED_OUT = text("SELECT address_hash FROM opt_out WHERE address_hash IN :hashes").bindparams(
    bindparam("hashes", expanding=True))


def _row_keys(row: dict, client_key: str) -> tuple[str, str, str]:
    """The limit keys of one colleague's mail: the mailbox, its domain, and this client's share
    of that domain (so one client cannot use up a domain's tips for everyone)."""
    domain = row["recipient"].rpartition("@")[2].casefold()
    return (f"invite-to:{row['recipient_hash']}",
            f"invite-domain:{keyed_hash(domain, 'domain')}",
            f"invite-share:{keyed_hash(f'{client_key}:{domain}', 'client-domain')}")


def _limits(once: str, ip: str, client_key: str, rows: list[dict]) -> list[limits.Action]:
    """Every limit a submit counts against: its preview's nonce, the client, each colleague."""
    config = current_app.config
    recipient = [(1, timedelta(days=config["INVITE_LIMIT_RECIPIENT_DAYS"]))]
    actions = [(once, [(1, DAY)]),
               (ip, [(config["INVITE_LIMIT_IP_HOUR"], HOUR), (config["INVITE_LIMIT_IP_DAY"], DAY)])]
    for row in rows:
        to, domain, share = _row_keys(row, client_key)
        actions += [(to, recipient), (domain, [(config["INVITE_LIMIT_DOMAIN_DAY"], DAY)]),
                    (share, [(config["INVITE_LIMIT_CLIENT_DOMAIN_DAY"], DAY)]),
                    ("invite-total", [(config["INVITE_LIMIT_TOTAL_DAY"], DAY)])]
    return actions
