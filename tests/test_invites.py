"""Tip een collega: form, preview, send, the colleague's mail, opting out, limits and bad input."""

import html
import re
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import csrf_token
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select

from mailer.extensions import db
from mailer.models import OptOut, OutboxMail, RateEvent
from mailer.outbox import send_due_mail

FORM = "/tip-een-collega/"
SEND = "/tip-een-collega/versturen"
EXPECTED_HEADERS = {
    "content-type", "mime-version", "subject", "from", "to", "date", "message-id",
    "list-unsubscribe", "list-unsubscribe-post",
}


@pytest.fixture(autouse=True)
def no_minimum_fill_time(app):
    """Tests fill in the form at once; one test below sets the minimum back."""
    app.config["INVITE_MIN_SECONDS"] = 0


def open_form(client) -> dict:
    """The hidden values of a freshly shown form."""
    page = client.get(FORM).text
    started = re.search(r'name="started" type="hidden" value="([^"]*)"', page).group(1)
    return {"csrf_token": csrf_token(page), "started": started}


def fill(client, environ=None, **fields):
    """Post the form with sensible defaults, overridden by `fields`."""
    data = {"voornaam": "Jan", "achternaam": "de Vries", "collega_1": "piet@example.nl",
            "collega_2": "", "collega_3": "", "fax": "", **open_form(client), **fields}
    return client.post(FORM, data={k: v for k, v in data.items() if v is not None},
                       environ_base=environ or {})


def previews(page: str) -> list[dict]:
    """The mails a preview page shows: recipient, sender, subject and text."""
    mails = []
    for block in re.findall(r'<section class="mailer-preview".*?</section>', page, re.S):
        fields = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", block))
        text = re.search(r'<pre class="mailer-preview__text">(.*?)</pre>', block, re.S).group(1)
        mails.append({"from": html.unescape(fields["Van"]), "to": html.unescape(fields["Aan"]),
                      "subject": html.unescape(fields["Onderwerp"]), "text": html.unescape(text)})
    return mails


def pending_of(page: str) -> str:
    """The signed values the preview carries to Versturen."""
    return html.unescape(re.search(r'name="pending" value="([^"]+)"', page).group(1))


def send(client, preview_page: str, environ=None):
    """Press Versturen on a preview page."""
    return client.post(SEND, data={"csrf_token": csrf_token(preview_page),
                                   "pending": pending_of(preview_page)},
                       environ_base=environ or {})


def invite(client, environ=None, **fields):
    """Fill in, preview and send; returns the answer to Versturen."""
    preview = fill(client, environ, **fields)
    assert preview.status_code == 200 and "Controleer uw tip" in preview.text, preview.text
    return send(client, preview.text, environ)


def queued(app) -> int:
    """How many mails are in the outbox, whatever their state."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(OutboxMail))


def text_of(mail) -> str:
    """A received mail's text part, with the wire's CRLF line ends read as plain newlines."""
    return mail.get_body(("plain",)).get_content().replace("\r\n", "\n")


def deliver(app) -> dict:
    """Run one worker round."""
    with app.app_context():
        return send_due_mail()


def test_form_is_served_in_the_site_with_its_traps(client):
    page = client.get(FORM)
    assert page.status_code == 200
    assert 'class="md-header' in page.text and "md-footer" in page.text
    assert "Kent u iemand die meer moet weten" in page.text  # the page's own text stays
    for name in ("voornaam", "achternaam", "collega_1", "collega_2", "collega_3"):
        assert f'<label for="{name}">' in page.text
    trap = re.search(r'<div class="mailer-trap" aria-hidden="true">.*?</div>', page.text, re.S)
    assert trap and 'tabindex="-1"' in trap.group(0) and 'autocomplete="off"' in trap.group(0)
    assert "novalidate" in page.text


def test_preview_stores_nothing(app, client):
    preview = fill(client)
    assert preview.status_code == 200
    assert "<title>Controleer uw tip" in preview.text
    assert "Versturen" in preview.text and "Aanpassen" in preview.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RateEvent)) == 0
    assert queued(app) == 0


def test_colleague_receives_exactly_what_the_preview_showed(app, client, smtp):
    preview = fill(client, voornaam="Zoë", achternaam="van 't Hoff-Çelik")
    [shown] = previews(preview.text)
    answer = send(client, preview.text)
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/tip-een-collega/verstuurd/")
    thanks = client.get(answer.headers["Location"])
    assert thanks.status_code == 200 and "Bedankt voor uw tip" in thanks.text
    assert queued(app) == 1

    assert deliver(app) == {"sent": 1, "retried": 0, "failed": 0}
    [(envelope, mail)] = smtp.received
    assert envelope.rcpt_tos == ["piet@example.nl"]
    assert mail["From"] == shown["from"]
    assert shown["from"] == "Schuldeiserscoalitie <noreply@schuldeiserscoalitie.nl>"
    assert mail["To"] == shown["to"] == "piet@example.nl"
    assert mail["Subject"] == shown["subject"]
    assert shown["subject"] == "Tip van Zoë van 't Hoff-Çelik: sociaal incassobeleid"
    text = mail.get_body(("plain",))
    assert text.get_content_charset() == "utf-8"
    assert text_of(mail).rstrip("\n") == shown["text"].rstrip("\n")
    assert "Je collega Zoë van 't Hoff-Çelik wil je graag op de hoogte stellen" in shown["text"]
    assert "via schuldeiserscoalitie.test verstuurd op verzoek van Zoë" in shown["text"]
    assert "https://schuldeiserscoalitie.test/" in shown["text"]

    opt_out = re.search(r"https://schuldeiserscoalitie\.test/tip-een-collega/afmelden/\S+",
                        shown["text"]).group(0)
    assert "piet" not in opt_out
    part = mail.get_body(("html",)).get_content()
    assert "Je collega Zoë van &#39;t Hoff-Çelik wil je graag" in part
    assert f'href="{opt_out}"' in part and 'href="https://schuldeiserscoalitie.test/"' in part
    assert "<img" not in part  # no tracking pixel
    raw = envelope.content.decode()
    assert f"List-Unsubscribe: <{opt_out}>\r\n" in raw
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw
    assert re.fullmatch(r"<[^<>@\s]+@schuldeiserscoalitie\.test>", mail["Message-ID"])
    assert {name.lower() for name in mail.keys()} == EXPECTED_HEADERS


def test_every_colleague_gets_an_own_mail_and_opt_out_link(app, client, smtp):
    addresses = ["a@example.nl", "b@voorbeeld.nl", "c@example.org"]
    preview = fill(client, collega_1=addresses[0], collega_2=addresses[1], collega_3=addresses[2])
    shown = previews(preview.text)
    assert [mail["to"] for mail in shown] == addresses
    assert len({mail["text"] for mail in shown}) == 3  # each with its own opt-out link
    send(client, preview.text)
    assert deliver(app)["sent"] == 3
    received = {mail["To"]: mail for mail in smtp.messages}
    for mail in shown:
        assert text_of(received[mail["to"]]).rstrip() == mail["text"].rstrip()
    assert len({mail["Message-ID"] for mail in smtp.messages}) == 3


def test_aanpassen_returns_to_the_filled_in_form(app, client):
    preview = fill(client, collega_2="kees@example.nl")
    page = client.post("/tip-een-collega/aanpassen", data={
        "csrf_token": csrf_token(preview.text), "pending": pending_of(preview.text)})
    assert page.status_code == 200
    assert 'value="Jan"' in page.text and 'value="de Vries"' in page.text
    assert 'value="piet@example.nl"' in page.text and 'value="kees@example.nl"' in page.text
    assert queued(app) == 0
    # The form sent again from here leads to a new preview.
    started = re.search(r'name="started" type="hidden" value="([^"]*)"', page.text).group(1)
    again = client.post(FORM, data={"csrf_token": csrf_token(page.text), "started": started,
                                    "voornaam": "Jan", "achternaam": "Jansen",
                                    "collega_1": "piet@example.nl"})
    assert previews(again.text)[0]["subject"] == "Tip van Jan Jansen: sociaal incassobeleid"


def test_the_same_preview_sent_twice_sends_one_mail(app, client, smtp):
    preview = fill(client)
    assert send(client, preview.text).status_code == 303
    assert send(client, preview.text).status_code == 303  # double click, or back and again
    assert queued(app) == 1


def test_a_second_tip_within_30_days_is_quietly_dropped(app, client):
    assert invite(client).status_code == 303
    again = invite(client, voornaam="Karin", achternaam="Bos", collega_1="PIET@example.nl")
    assert again.status_code == 303
    assert again.headers["Location"].endswith("/tip-een-collega/verstuurd/")
    assert queued(app) == 1


def opt_out_link(app, client, smtp) -> str:
    """Send a tip and return the opt-out path from the mail."""
    invite(client)
    deliver(app)
    text = text_of(smtp.messages[-1])
    return re.search(r"https://schuldeiserscoalitie\.test(/tip-een-collega/afmelden/\S+)",
                     text).group(1)


def opt_outs(app) -> int:
    """How many addresses opted out."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(OptOut))


def test_opt_out_page_changes_nothing_until_the_button(app, client, smtp):
    path = opt_out_link(app, client, smtp)
    page = client.get(path)
    assert page.status_code == 200
    assert "<button" in page.text and "Afmelden" in page.text
    assert opt_outs(app) == 0
    done = client.post(path)
    assert done.status_code == 200 and "U bent afgemeld" in done.text
    assert opt_outs(app) == 1
    assert client.post(path).status_code == 200  # twice is fine
    assert opt_outs(app) == 1

    # A later tip to that colleague: the sender sees the usual thanks, nothing is queued.
    app.config["INVITE_LIMIT_RECIPIENT_DAYS"] = 0
    before = queued(app)
    answer = invite(client, voornaam="Karin", collega_1="Piet@Example.nl")
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/tip-een-collega/verstuurd/")
    assert queued(app) == before


def test_one_click_opt_out_needs_no_csrf_token(app, client, smtp):
    path = opt_out_link(app, client, smtp)
    answer = client.post(path, data="List-Unsubscribe=One-Click",
                         content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200
    assert opt_outs(app) == 1


@pytest.mark.parametrize("token", ["abc", "0" * 64 + ".bad", "%0d%0a"])
def test_a_forged_opt_out_link_does_nothing(app, client, token):
    assert client.get(f"/tip-een-collega/afmelden/{token}").status_code == 404
    answer = client.post(f"/tip-een-collega/afmelden/{token}")
    assert answer.status_code == 404 and "Deze link werkt niet" in answer.text
    assert opt_outs(app) == 0


def test_the_sixth_submit_in_an_hour_from_one_ip_waits(app, client):
    environ = {"REMOTE_ADDR": "192.0.2.10"}
    for number in range(5):
        assert invite(client, environ, collega_1=f"c{number}@example.nl").status_code == 303
    answer = invite(client, environ, collega_1="c5@example.nl")
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "3600"
    assert "Probeer het later opnieuw" in answer.text
    assert queued(app) == 5
    other = invite(client, {"REMOTE_ADDR": "192.0.2.11"}, collega_1="c6@example.nl")
    assert other.status_code == 303


def test_rotating_addresses_inside_one_ipv6_64_count_together(app, client):
    for number in range(5):
        environ = {"REMOTE_ADDR": f"2001:db8:aa:bb::{number + 1:x}"}
        assert invite(client, environ, collega_1=f"c{number}@example.nl").status_code == 303
    rotated = {"REMOTE_ADDR": "2001:db8:aa:bb:ffff:1234:5678:9abc"}
    assert invite(client, rotated, collega_1="c5@example.nl").status_code == 429
    elsewhere = {"REMOTE_ADDR": "2001:db8:aa:bc::1"}
    assert invite(client, elsewhere, collega_1="c6@example.nl").status_code == 303
    assert queued(app) == 6


def test_the_ip_behind_a_trusted_proxy_is_limited(make_app):
    app = make_app(TRUSTED_PROXIES=1, INVITE_LIMIT_IP_HOUR=1, INVITE_MIN_SECONDS=0)
    client = app.test_client()
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.5"
    assert invite(client, collega_1="a@example.nl").status_code == 303
    assert invite(client, collega_1="b@example.nl").status_code == 429
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.5, 203.0.113.6"
    assert invite(client, collega_1="c@example.nl").status_code == 303


@pytest.mark.parametrize("setting, limit", [
    ("INVITE_LIMIT_IP_DAY", 2), ("INVITE_LIMIT_DOMAIN_DAY", 2), ("INVITE_LIMIT_TOTAL_DAY", 2),
])
def test_daily_limits_answer_try_later(app, client, setting, limit):
    app.config[setting] = limit
    for number in range(limit):
        assert invite(client, collega_1=f"c{number}@example.nl").status_code == 303
    answer = invite(client, collega_1="last@example.nl")
    assert answer.status_code == 429 and "Probeer het later opnieuw" in answer.text
    assert queued(app) == limit


@pytest.mark.parametrize("setting", ["INVITE_LIMIT_DOMAIN_DAY", "INVITE_LIMIT_TOTAL_DAY"])
def test_a_colleague_tipped_recently_does_not_count_for_domain_or_total(app, client, setting):
    app.config[setting] = 2
    assert invite(client, collega_1="a@example.nl").status_code == 303
    again = invite(client, voornaam="Karin", collega_1="a@example.nl", collega_2="b@example.nl")
    assert again.status_code == 303  # a is skipped, so only b counts: 2 of 2
    assert queued(app) == 2
    assert invite(client, voornaam="Kees", collega_1="c@example.nl").status_code == 429
    assert queued(app) == 2


def test_a_limit_hit_halfway_queues_nothing(app, client):
    app.config["INVITE_LIMIT_DOMAIN_DAY"] = 1
    answer = invite(client, collega_1="a@example.nl", collega_2="b@example.nl")
    assert answer.status_code == 429
    assert queued(app) == 0


LONG_LOCAL = "a" * 64
TOO_LONG = ".".join([LONG_LOCAL] * 3) + "@" + ".".join(["b" * 60] * 4) + ".nl"
CRLF = ["\r\n", "\n", "\r"]


@pytest.mark.parametrize("field, value, message", [
    *[("voornaam", f"Jan{eol}Bcc: x@evil.example", "regeleinde") for eol in CRLF],
    *[("achternaam", f"Vries{eol}Bcc: x@evil.example", "regeleinde") for eol in CRLF],
    *[(f"collega_{n}", f"p@example.nl{eol}Bcc: x@evil.example", "regeleinde")
      for n in (1, 2, 3) for eol in CRLF],
    ("collega_1", "a@b.nl, c@d.nl", "één e-mailadres"),
    ("collega_2", "a@b.nl; c@d.nl", "één e-mailadres"),
    ("collega_1", '"a@b.nl" <evil@example.com>', "zonder naam"),
    ("collega_1", "Piet <piet@example.nl>", "zonder naam"),
    ("collega_1", "piet@example.nl <evil@example.com>", "zonder naam"),
    ("collega_1", TOO_LONG, "254 tekens"),
    ("collega_1", "piet\x00@example.nl", "onzichtbaar teken"),
    ("voornaam", "Jan\x00", "onzichtbaar teken"),
    ("achternaam", "Vries\u202e", "onzichtbaar teken"),
    ("collega_1", "geen-adres", "geldig e-mailadres"),
    ("collega_1", "piet@[127.0.0.1]", "zonder naam"),
    ("collega_1", "piet@localhost", "geldig e-mailadres"),
    ("collega_1", "piet @example.nl", "spaties"),
    ("voornaam", "<script>alert(1)</script>", "< of >"),
    ("achternaam", "Jansen<script>", "< of >"),
    ("voornaam", "https://spam.example", "webadres"),
    ("achternaam", "kijk op www.spam.nl", "webadres"),
    ("achternaam", "spam.com", "webadres"),
    *[("voornaam", f"{c}SUM(A1)", "niet beginnen met") for c in "=+-@"],
    *[("achternaam", f"{c}cmd|' /C calc'!A0", "niet beginnen met") for c in "=+-@"],
    ("voornaam", "", "Vul uw voornaam in"),
    ("voornaam", "   ", "Vul uw voornaam in"),
    ("achternaam", "", "Vul uw achternaam in"),
    ("collega_1", "", "minstens één collega"),
    ("voornaam", "J" * 51, "50 tekens"),
    ("achternaam", "Jan 2", "alleen letters"),
])
def test_bad_input_gets_a_clear_dutch_error_at_its_field(app, client, smtp, field, value,
                                                         message):
    page = fill(client, **{field: value})
    assert page.status_code == 200
    assert "<title>Fout: " in page.text
    assert "Controleer het formulier" in page.text
    error = re.search(rf'<p class="mailer-field__error" id="{field}-error-1">(.*?)</p>',
                      page.text, re.S)
    assert error and message in html.unescape(error.group(1)), page.text
    assert re.search(rf'aria-describedby="[^"]*{field}-error-1"[^>]*id="{field}"', page.text)
    assert f'href="#{field}"' in page.text  # the summary links to the field
    assert "Controleer uw tip" not in page.text
    assert queued(app) == 0


@pytest.mark.parametrize("field", ["voornaam", "achternaam", "collega_1", "collega_2"])
def test_url_encoded_line_breaks_are_refused(app, client, field):
    values = {"voornaam": "Jan", "achternaam": "Vries", "collega_1": "p@example.nl",
              "collega_2": "", "collega_3": "", **open_form(client)}
    body = "&".join(f"{key}={quote(value)}" for key, value in values.items())
    injected = quote(values[field] or "q@example.nl") + "%0D%0ABcc:%20x@evil.example"
    body = body.replace(f"{field}={quote(values[field])}", f"{field}={injected}")
    page = client.post(FORM, data=body, content_type="application/x-www-form-urlencoded")
    assert page.status_code == 200
    assert "regeleinde" in page.text and "Controleer uw tip" not in page.text


def test_four_recipients_are_refused(app, client):
    page = fill(client, collega_2="b@example.nl", collega_3="c@example.nl",
                collega_4="d@example.nl")
    assert "U kunt één tot drie collega's tippen." in html.unescape(page.text)
    assert "Controleer uw tip" not in page.text


def test_a_field_sent_twice_is_refused(app, client):
    data = [("voornaam", "Jan"), ("achternaam", "Vries"), ("collega_1", "a@example.nl"),
            ("collega_1", "b@example.nl"), *open_form(client).items()]
    body = "&".join(f"{key}={quote(value)}" for key, value in data)
    page = client.post(FORM, data=body, content_type="application/x-www-form-urlencoded")
    assert "maar één keer" in page.text and "Controleer uw tip" not in page.text


@pytest.mark.parametrize("second", ["Piet@EXAMPLE.nl", "piet+werk@example.nl"])
def test_the_same_colleague_twice_is_refused(app, client, second):
    """One mailbox, however spelled: the limits would count it twice and send nothing."""
    page = fill(client, collega_1="piet@example.nl", collega_2=second)
    error = re.search(r'id="collega_2-error-1">(.*?)</p>', page.text, re.S)
    assert error and "al in een ander veld" in error.group(1)


def test_missing_csrf_token_is_refused_plainly(app, client):
    data = {"voornaam": "Jan", "achternaam": "Vries", "collega_1": "p@example.nl"}
    page = client.post(FORM, data=data)
    assert page.status_code == 400
    assert "Uw formulier is verlopen" in page.text
    preview = fill(client)
    answer = client.post(SEND, data={"pending": pending_of(preview.text)})
    assert answer.status_code == 400 and "Uw formulier is verlopen" in answer.text
    assert queued(app) == 0


@pytest.mark.parametrize("pending", ["", "nep", "eyJ0byI6WyJ4QHkubmwiXX0.abc.def", "a\r\nb"])
def test_forged_preview_values_send_nothing(app, client, pending):
    token = csrf_token(client.get(FORM).text)
    answer = client.post(SEND, data={"csrf_token": token, "pending": pending})
    assert answer.status_code == 400 and "Uw formulier is verlopen" in answer.text
    aanpassen = client.post("/tip-een-collega/aanpassen",
                            data={"csrf_token": token, "pending": pending})
    assert aanpassen.status_code == 400
    assert queued(app) == 0


def test_an_expired_preview_sends_nothing(app, client):
    preview = fill(client)
    app.config["INVITE_PREVIEW_MAX_AGE"] = -1
    assert send(client, preview.text).status_code == 400
    assert queued(app) == 0


@pytest.mark.parametrize("value", ["http://spam.example", "x", "Jan\r\nBcc: x@evil.example"])
def test_a_filled_honeypot_is_quietly_refused(app, client, value):
    answer = fill(client, fax=value)
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/tip-een-collega/verstuurd/")
    assert queued(app) == 0


def test_a_submit_within_three_seconds_is_refused(app, client):
    app.config["INVITE_MIN_SECONDS"] = 3
    page = fill(client)
    assert "Dat ging erg snel" in page.text and "Controleer uw tip" not in page.text
    assert "Controleer uw tip" in fill(client, started=stamp(app, client, -4)).text


def stamp(app, client, seconds: float) -> str:
    """A start stamp of this browser session, made `seconds` from now."""
    open_form(client)  # the session gets its owner mark with its first form
    with client.session_transaction() as session:
        owner = session["forms"]
    return URLSafeSerializer(app.secret_key, salt="invite-started").dumps(
        [time.time() + seconds, owner])


def test_a_start_stamp_expires_after_an_hour(app, client):
    page = fill(client, started=stamp(app, client, -3601))
    assert "stond te lang open" in page.text and "Controleer uw tip" not in page.text
    assert "Controleer uw tip" in fill(client, started=stamp(app, client, -3599)).text


def test_a_start_stamp_belongs_to_the_session_that_got_it(app, client):
    other = app.test_client()
    borrowed = open_form(other)["started"]
    page = fill(client, started=borrowed)
    assert "niet compleet" in page.text and "Controleer uw tip" not in page.text


@pytest.mark.parametrize("started", ["", "1795440000.0", "MTc5NTQ0MDM0Ni43.forged", "a\r\nb"])
def test_a_missing_or_forged_start_stamp_is_refused(app, client, started):
    page = fill(client, started=started)
    assert "niet compleet" in page.text and "Controleer uw tip" not in page.text


def database_bytes(app) -> bytes:
    """The raw bytes of the database file and its -wal and -journal files."""
    path = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    files = [path, Path(f"{path}-wal"), Path(f"{path}-journal")]
    return b"".join(file.read_bytes() for file in files if file.exists())


def test_after_sending_no_address_or_name_is_left_in_the_database(app, client, smtp):
    invite(client, voornaam="Wilhelmina", achternaam="Zwanenburg",
           collega_1="geheim.adres@voorbeeld.nl", collega_2="tweede.collega@example.org")
    secrets = [b"geheim.adres@voorbeeld.nl", b"tweede.collega", b"Wilhelmina", b"Zwanenburg"]
    before = database_bytes(app)
    assert all(secret in before for secret in secrets)  # the check can see them
    assert deliver(app)["sent"] == 2
    after = database_bytes(app)
    for secret in secrets:
        assert secret not in after
    assert len(smtp.messages) == 2


def test_a_new_secret_key_keeps_opt_outs_limits_and_old_opt_out_links(make_app, smtp):
    old = make_app(SECRET_KEY="oude-sleutel", INVITE_MIN_SECONDS=0, INVITE_LIMIT_IP_HOUR=2)
    client = old.test_client()
    path = opt_out_link(old, client, smtp)  # a mail to piet@example.nl, sent with the old key
    assert invite(client, collega_1="kees@example.nl").status_code == 303  # 2 of 2 this hour
    assert client.post(path).status_code == 200  # piet opts out
    deliver(old)
    mails_before = len(smtp.messages)

    new = make_app(SECRET_KEY="nieuwe-sleutel", SECRET_KEY_FALLBACKS=["oude-sleutel"],
                   INVITE_MIN_SECONDS=0, INVITE_LIMIT_IP_HOUR=2)
    client = new.test_client()
    # The link in the mail sent before the change still opens and works.
    page = client.get(path)
    assert page.status_code == 200 and "<button" in page.text
    assert client.post(path).status_code == 200
    assert opt_outs(new) == 1
    # The limit counted under the old key still holds: a third submit this hour waits.
    assert invite(client, collega_1="anna@example.nl").status_code == 429

    rotated_again = make_app(SECRET_KEY="derde-sleutel", INVITE_MIN_SECONDS=0,
                             INVITE_LIMIT_RECIPIENT_DAYS=0)
    client = rotated_again.test_client()
    # With no fallback left the old link no longer works, but the opt-out itself stays.
    assert client.get(path).status_code == 404
    assert invite(client, collega_1="piet@example.nl").status_code == 303
    deliver(rotated_again)
    assert len(smtp.messages) == mails_before


@pytest.mark.parametrize("address", ["jürgen@example.nl", "ö@example.nl", "测试@example.nl"])
def test_an_address_that_cannot_be_sent_is_refused_on_the_form(app, client, address):
    page = fill(client, collega_1=address)
    error = re.search(r'id="collega_1-error-1">(.*?)</p>', page.text, re.S)
    assert error and "zonder accenten" in html.unescape(error.group(1)), page.text
    assert queued(app) == 0


def test_a_colleague_at_an_international_domain_gets_the_mail_at_its_punycode_name(
        app, client, smtp):
    assert invite(client, collega_1="Piet@Bücher.example").status_code == 303
    assert deliver(app)["sent"] == 1
    envelope, message = smtp.received[-1]
    assert envelope.rcpt_tos == ["Piet@xn--bcher-kva.example"]
    assert message["To"] == "Piet@xn--bcher-kva.example"


@pytest.mark.parametrize("spelling", ["Piet@Example.NL", "piet+nieuwsbrief@example.nl",
                                      "PIET+x+y@EXAMPLE.nl"])
def test_an_opt_out_holds_for_the_mailbox_not_one_spelling(app, client, smtp, spelling):
    path = opt_out_link(app, client, smtp)  # the mail went to piet@example.nl
    assert client.post(path).status_code == 200
    app.config["INVITE_LIMIT_RECIPIENT_DAYS"] = 0
    before = queued(app)
    assert invite(client, voornaam="Karin", collega_1=spelling).status_code == 303
    assert queued(app) == before


@pytest.mark.parametrize("spelling", ["ANNA@example.nl", "anna+werk@example.nl"])
def test_a_colleague_is_tipped_once_a_month_whatever_the_spelling(app, client, spelling):
    assert invite(client, collega_1="anna@example.nl").status_code == 303
    answer = invite(client, voornaam="Karin", collega_1=spelling)
    assert answer.status_code == 303  # the sender sees the usual thanks
    assert queued(app) == 1


def test_one_client_cannot_use_up_a_domain_for_everyone(app, client):
    app.config.update(INVITE_LIMIT_IP_HOUR=100, INVITE_LIMIT_IP_DAY=100,
                      INVITE_LIMIT_CLIENT_DOMAIN_DAY=4, INVITE_LIMIT_DOMAIN_DAY=6)
    first = {"REMOTE_ADDR": "192.0.2.1"}
    for number in range(4):
        assert invite(client, first, collega_1=f"c{number}@bedrijf.nl").status_code == 303
    assert invite(client, first, collega_1="c4@bedrijf.nl").status_code == 429
    assert invite(client, first, collega_1="c4@elders.nl").status_code == 303
    second = {"REMOTE_ADDR": "198.51.100.2"}
    for number in range(5, 7):
        assert invite(client, second, collega_1=f"c{number}@bedrijf.nl").status_code == 303
    # The domain's own limit still holds for everyone together.
    assert invite(client, second, collega_1="c7@bedrijf.nl").status_code == 429
    assert queued(app) == 7
