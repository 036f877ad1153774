"""Whatever is typed into the form: never a 500, and never a mail header the code did not set."""

import html
import re
from email.utils import getaddresses

import pytest
from conftest import SmtpServer, csrf_token, migrated_database
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from mailer import create_app
from mailer.extensions import db
from mailer.models import OutboxMail
from mailer.outbox import send_due_mail

EXPECTED_HEADERS = {
    "content-type", "mime-version", "subject", "from", "to", "date", "message-id",
    "list-unsubscribe", "list-unsubscribe-post",
}
TRICKS = ["\r\n", "\n", "\r", "%0d%0a", "\x00", ",", ";", "<", ">", '"', "@", "=", "+", "-",
          "Bcc: x@evil.example", "\u202e", "\u2028", " ", ":", "/", ".", "é", "💸"]
NASTY = ["a@b.nl, c@d.nl", '"a@b.nl" <evil@example.com>', "a@b.nl\r\nBcc: x@evil.example",
         "a@b.nl%0d%0aBcc:x@evil.example", "=HYPERLINK(\"http://x\")", "<script>", "x" * 300]
# Lone surrogates cannot be encoded as UTF-8, so no browser (or test client) can send them.
text = st.lists(st.one_of(st.characters(exclude_categories=["Cs"]), st.sampled_from(TRICKS)),
                max_size=30).map("".join)
good_name = st.sampled_from(["Jan", "Zoë", "van 't Hoff", "Anne-Marie", "J.P.", "Ødegård"])
optional = st.one_of(st.just(""), st.emails())
nasty = st.one_of(text, st.sampled_from(NASTY), st.emails(),
                  st.builds(lambda a, b: a + b, st.emails(), st.sampled_from(TRICKS)),
                  st.builds(lambda a, b: a + b, good_name, text))
FIELDS = ["voornaam", "achternaam", "collega_1", "collega_2", "collega_3"]


@st.composite
def forms(draw) -> dict:
    """A valid form with none, some or all of its fields replaced by something nasty."""
    fields = {"voornaam": draw(good_name), "achternaam": draw(good_name),
              "collega_1": draw(st.emails()), "collega_2": draw(optional),
              "collega_3": draw(optional)}
    for key in draw(st.sets(st.sampled_from(FIELDS))):
        fields[key] = draw(nasty)
    return fields


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory, site_dir):
    """One app, database and SMTP server for every generated example."""
    smtp = SmtpServer()
    smtp.start()
    base = tmp_path_factory.mktemp("fuzz")
    app = create_app({
        "TESTING": True, "SECRET_KEY": "fuzz", "HASH_KEY": "fuzz", "SITE_DIR": str(site_dir),
        "SQLALCHEMY_DATABASE_URI": migrated_database(base / "mailer.sqlite"),
        "SITE_URL": "https://schuldeiserscoalitie.test", "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp.port, "MAIL_TIMEOUT": 5, "MAIL_SUPPRESS_SEND": False,
        "INVITE_MIN_SECONDS": 0, "INVITE_LIMIT_IP_HOUR": 10**6, "INVITE_LIMIT_IP_DAY": 10**6,
        "INVITE_LIMIT_DOMAIN_DAY": 10**6, "INVITE_LIMIT_CLIENT_DOMAIN_DAY": 10**6,
        "INVITE_LIMIT_TOTAL_DAY": 10**6,
    })
    yield app, smtp
    smtp.stop()


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(fields=forms())
def test_no_input_gives_a_500_or_a_foreign_header(fuzz, fields):
    app, smtp = fuzz
    client = app.test_client()
    page = client.get("/tip-een-collega/").text
    started = re.search(r'name="started" type="hidden" value="([^"]*)"', page).group(1)
    answer = client.post("/tip-een-collega/", data={
        **fields, "fax": "", "started": started, "csrf_token": csrf_token(page)})
    assert answer.status_code == 200
    if "Controleer uw tip" not in answer.text:
        return
    event("preview shown")
    pending = html.unescape(re.search(r'name="pending" value="([^"]+)"', answer.text).group(1))
    sent = client.post("/tip-een-collega/versturen",
                       data={"pending": pending, "csrf_token": csrf_token(answer.text)})
    assert sent.status_code == 303
    before = len(smtp.received)
    with app.app_context():
        send_due_mail()
        # A valid but unusual address may be refused by the SMTP server (5xx): recorded as a
        # failure, which is right. Any failure of our own (an encoding error, a bad header) is not.
        errors = db.session.scalars(select(OutboxMail.last_error).where(
            OutboxMail.status == "failed")).all()
    assert all(error.startswith("SMTP 5") for error in errors), errors
    for envelope, mail in smtp.received[before:]:
        assert {name.lower() for name in mail.keys()} <= EXPECTED_HEADERS
        assert len(envelope.rcpt_tos) == 1
        assert [address for _, address in getaddresses([mail["To"]])] == envelope.rcpt_tos
        assert envelope.rcpt_tos[0].lower() in {v.strip().lower() for v in fields.values()}
        for name, header in mail.items():
            assert "\r" not in str(header) and "\n" not in str(header), name
