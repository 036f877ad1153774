"""The mails' words live in content/mails.yml: staff change them there, and what they change is
what is sent, subject, text and HTML alike, with every place filled and every value escaped."""

import re
from pathlib import Path

import pytest
import yaml
from conftest import content_copy, edit

from mailer.extensions import db
from mailer.invites.email import invitation
from mailer.models import OutboxMail
from mailer.outbox import MAILS, mail_subject, queue_mail, render_mail, send_due_mail
from mailer.staff.figures import sample_contexts
from mailer.words import MissingWords, words

ROOT = Path(__file__).resolve().parent.parent
SITE = "https://schuldeiserscoalitie.test"
HOSTILE = 'Jan "<script>alert(1)</script>" & Co\r\nBcc: stiekem@example.nl'
REASON = 'Geen beleid <b>gevonden</b> & "zo"\r\nTweede regel\nDerde <script>x</script>'


def parts(mail) -> tuple[str, str]:
    """A received mail's text and HTML parts, with the wire's CRLF line ends read as newlines."""
    return tuple(mail.get_body((kind,)).get_content().replace("\r\n", "\n")
                 for kind in ("plain", "html"))


def queue_tip(app, voornaam: str = "Jan", achternaam: str = "Jansen") -> None:
    """Queue a tip to piet@example.nl as the form does, with the subject it shows."""
    with app.test_request_context():
        mail = invitation({"voornaam": voornaam, "achternaam": achternaam}, "piet@example.nl")
        queue_mail("invitation", mail["to"], mail["subject"], "invitation",
                   headers=mail["headers"], **mail["context"])
        db.session.commit()


def deliver(app) -> dict:
    """One worker round."""
    with app.app_context():
        return send_due_mail()


def test_a_changed_word_is_what_the_colleague_receives(make_app, smtp, tmp_path):
    content = content_copy(tmp_path)
    app = make_app(CONTENT_DIR=str(content))
    edit(content / "mails.yml", "Tip van {voornaam} {achternaam}: sociaal incassobeleid",
         "Leestip van {voornaam} {achternaam}")
    edit(content / "mails.yml", "    Hoi,\n", "    Goedemorgen,\n")
    edit(content / "mails.yml", "Mvg, het team", "Groet, het team")
    queue_tip(app, "Zoë", "de Wit")
    assert deliver(app)["sent"] == 1
    [mail] = smtp.messages
    text, html = parts(mail)
    assert mail["Subject"] == "Leestip van Zoë de Wit"
    assert text.startswith("Goedemorgen,\n\nJe collega Zoë de Wit wil je graag")
    assert "Groet, het team" in text and "Mvg" not in text and "Hoi," not in text
    assert "<p>Goedemorgen,</p>" in html and "<p>Groet, het team" in html
    assert "Hoi," not in html and "Mvg" not in html
    assert "<title>Leestip van Zoë de Wit</title>" in html

    # A later change shows in the next mail, without a restart.
    edit(content / "mails.yml", "Goedemorgen,", "Goedemiddag,")
    queue_tip(app)
    deliver(app)
    text, html = parts(smtp.messages[-1])
    assert text.startswith("Goedemiddag,\n") and "<p>Goedemiddag,</p>" in html


def test_the_tip_is_the_seed_text_with_its_opt_out_footer(app, smtp):
    """The invitation is word for word the client's text; the footer says who sent it and how
    to opt out, in the text and in the HTML."""
    queue_tip(app)
    deliver(app)
    [mail] = smtp.messages
    text, html = parts(mail)
    opt_out = re.search(rf"{re.escape(SITE)}/tip-een-collega/afmelden/\S+", text).group(0)
    assert text.rstrip("\n") == (
        "Hoi,\n\nJe collega Jan Jansen wil je graag op de hoogte stellen van het belang van het "
        "voeren van een sociaal incassobeleid.\n\nSchuldeiserscoalitie is een "
        "samenwerkingsverband die bijdraagt om probleemschulden te voorkomen en "
        "betalingsachterstanden van klanten op te lossen. Kijk voor meer info op onze site:\n"
        f"{SITE}/\n\nMvg, het team van Schuldeiserscoalitie.nl\n\n--\nDeze e-mail is via "
        "schuldeiserscoalitie.test verstuurd op verzoek van Jan Jansen. Wij wissen je "
        "e-mailadres zodra deze e-mail is verstuurd.\n\nWil je nooit meer een tip via "
        f"schuldeiserscoalitie.test krijgen? Meld je af:\n{opt_out}")
    assert mail["Subject"] == "Tip van Jan Jansen: sociaal incassobeleid"
    assert (f'<a href="{opt_out}" style="color:#8a3b12;word-break:break-all;">{opt_out}</a>'
            in html)
    assert f'<a href="{SITE}/" style="color:#8a3b12;' in html
    assert "Meld je af:<br>" in html


def rendered(app) -> list[tuple[str, str, str, str]]:
    """Every text of every mail in content/mails.yml, rendered with the staff's sample values:
    (mail and text key, subject, text part, HTML part)."""
    found = []
    with app.test_request_context():
        samples = sample_contexts()
        approved = next(context for _, template, context in samples
                        if template == "adoption_approved")
        review = next(context for _, template, context in samples
                      if template == "review_requested")
        samples += [  # the other text of the approval, and a review without a website
            ("niet op de lijst", "adoption_approved",
             {**approved, "registration": {**approved["registration"], "list_publicly": False}}),
            ("geen website", "review_requested", {**review, "website": None}),
        ]
        for _, template, context in samples:
            listed = context.get("registration", {}).get("list_publicly")
            key = {"adoption_approved": "tekst_op_lijst" if listed else "tekst_niet_op_lijst"}.get(
                template, "tekst")
            found.append((f"{MAILS[template]}.{key}", mail_subject(template, **context),
                          *render_mail(template, **context)))
    return found


def unfilled(app) -> list[str]:
    """The mails with a brace left in what the reader would see: a place not filled in."""
    return sorted({f"{key}: {found}" for key, *shown in rendered(app)
                   for found in re.findall(r"[^\s]*[{}][^\s]*", "\n".join(shown))})


def test_every_mail_renders_with_every_place_filled(app, make_app, tmp_path):
    with open(ROOT / "content" / "mails.yml", encoding="utf-8") as file:
        mails = yaml.safe_load(file)
    # Every mail and every text in the file is rendered here, and nothing else is in the file.
    assert {key for key, *_ in rendered(app)} == {
        f"{mail}.{key}" for mail, fields in mails.items() if mail != "voettekst"
        for key in fields if key.startswith("tekst")}
    assert set(mails) == set(MAILS.values()) | {"voettekst"}
    assert unfilled(app) == []

    # A staff typo would fail this test (and so `make test`): in the subject or the text.
    content = content_copy(tmp_path)
    edit(content / "mails.yml", "Beste {contactpersoon},\n\n    Wij hebben",
         "Beste {contactpersoon},\n\n    Wij {hebben")
    edit(content / "mails.yml", "Tip van {voornaam}", "Tip van {naaam}")
    assert unfilled(make_app(CONTENT_DIR=str(content))) == [
        "afgewezen.tekst: {hebben", "tip.tekst: {naaam}"]


def test_hostile_values_are_escaped_in_html_and_harmless_in_text(app, smtp):
    with app.test_request_context():
        registration = {"company_name": HOSTILE, "contact_name": HOSTILE, "kvk": "12345678",
                        "list_publicly": True}
        rejected = {"registration": registration, "reason": REASON}
        review = {"registration": registration, "sector": "Water", "website": None,
                  "warm_referral": False, "review_url": f"{SITE}/beheer/aanmeldingen/#reg-1"}
        for to, template, context in (("anna@example.nl", "adoption_rejected", rejected),
                                      ("beoordeling@example.nl", "review_requested", review)):
            queue_mail(template, to, mail_subject(template, **context), template, **context)
        db.session.commit()
    queue_tip(app, voornaam=HOSTILE, achternaam="<i>de</i> & Vries")
    assert deliver(app) == {"sent": 3, "retried": 0, "failed": 0}
    received = {envelope.rcpt_tos[0]: mail for envelope, mail in smtp.received}
    assert sorted(received) == ["anna@example.nl", "beoordeling@example.nl", "piet@example.nl"]
    for mail in received.values():
        assert mail["Bcc"] is None  # nothing in a value reaches a header
        assert "\n" not in mail["Subject"] and "\r" not in mail["Subject"]
        text, html = parts(mail)
        body = html.split("<body", 1)[1]
        assert "<script" not in body and "<b>" not in body and "<i>" not in body
        assert "Jan &#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34; &amp; Co" in html
        # The text part has the values as written (its line break is a line of the body).
        assert 'Jan "<script>alert(1)</script>" & Co\nBcc: stiekem@example.nl' in text
        assert "{" not in text + html

    assert received["beoordeling@example.nl"]["Subject"] == (
        'Nieuwe aanmelding: Jan "<script>alert(1)</script>" & Co Bcc: stiekem@example.nl')
    assert received["piet@example.nl"]["Subject"] == (
        'Tip van Jan "<script>alert(1)</script>" & Co Bcc: stiekem@example.nl <i>de</i> & Vries:'
        " sociaal incassobeleid")
    assert "&lt;i&gt;de&lt;/i&gt; &amp; Vries" in parts(received["piet@example.nl"])[1]

    # The reason as staff wrote it: escaped, its line breaks kept.
    text, html = parts(received["anna@example.nl"])
    assert f"De reden:\n\n{REASON.replace(chr(13) + chr(10), chr(10))}\n\n" in text
    assert ("Geen beleid &lt;b&gt;gevonden&lt;/b&gt; &amp; &#34;zo&#34;<br>\nTweede regel<br>\n"
            "Derde &lt;script&gt;x&lt;/script&gt;</blockquote>") in html


def test_the_badge_code_is_shown_as_code_not_as_a_link(app):
    with app.test_request_context():
        context = next(context for _, template, context in sample_contexts()
                       if template == "adoption_approved")
        text, html = render_mail("adoption_approved", **context)
    assert context["snippet"] in text
    code = re.search(r"<pre[^>]*>(.*?)</pre>", html, re.S).group(1)
    assert code.startswith("&lt;a href=&#34;https://") and "<" not in code
    assert f'<a href="{context["list_url"]}"' in html  # the list's own link is a link
    assert "<img" not in html


def test_a_removed_word_names_the_file_and_the_key(make_app, smtp, tmp_path):
    content = content_copy(tmp_path)
    app = make_app(CONTENT_DIR=str(content))
    queue_tip(app)
    edit(content / "mails.yml", "  tekst: |\n    Hoi,", "  text: |\n    Hoi,")
    with app.app_context(), pytest.raises(MissingWords) as missing:
        render_mail("invitation", voornaam="Jan", achternaam="Jansen", opt_out_url=SITE)
    assert str(missing.value) == "content/mails.yml mist 'tip.tekst'"

    # A mail queued meanwhile waits, with the same message for staff, and goes once fixed.
    assert deliver(app) == {"sent": 0, "retried": 1, "failed": 0}
    with app.app_context():
        [row] = db.session.query(OutboxMail).all()
        assert row.last_error == "content/mails.yml mist 'tip.tekst'"
        row.next_attempt_at = row.created_at
        db.session.commit()
    edit(content / "mails.yml", "  text: |\n    Hoi,", "  tekst: |\n    Hoi,")
    assert deliver(app)["sent"] == 1
    assert smtp.messages[0].get_body(("plain",)).get_content().startswith("Hoi,")

    # A subject is filled in when the mail is queued: a missing one stops it there.
    edit(content / "mails.yml", "  onderwerp: Uw aanmelding is niet goedgekeurd\n", "")
    with app.app_context(), pytest.raises(MissingWords, match=r"content/mails\.yml mist "
                                                               r"'afgewezen\.onderwerp'"):
        mail_subject("adoption_rejected", registration={}, reason="x")


def test_mails_queued_before_the_words_moved_still_render(app):
    """Rows queued by the old code stored the invitation's site address and host too."""
    with app.app_context():
        text, html = render_mail(
            "invitation", voornaam="Jan", achternaam="Jansen", site_url=SITE,
            site_host="schuldeiserscoalitie.test", opt_out_url=f"{SITE}/tip-een-collega/afmelden/x")
        assert words("mails").tip.onderwerp
    assert text.endswith(f"Meld je af:\n{SITE}/tip-een-collega/afmelden/x")
    assert "{" not in text + html and "Jan Jansen" in html



def test_the_footer_is_the_files_with_a_link_to_the_site(make_app, tmp_path):
    content = content_copy(tmp_path)
    edit(content / "mails.yml", 'voettekst: "Schuldeiserscoalitie · {site_naam}"',
         'voettekst: "Met dank <3 · {site_naam}"')
    app = make_app(CONTENT_DIR=str(content))
    with app.test_request_context():
        _, html = render_mail("adoption_rejected", reason="Geen beleid", registration={
            "contact_name": "Anna", "company_name": "Voorbeeld", "kvk": "12345678"})
    assert ('<p style="font-size:14px;color:#4a4f55;">Met dank &lt;3 · <a href="'
            f'{SITE}/" style="color:#8a3b12;">schuldeiserscoalitie.test</a></p>') in html
    assert "Schuldeiserscoalitie ·" not in html


def test_a_long_line_is_sent_whole_within_the_line_limit(app, smtp):
    """A long reason and a badge code with a long quoted name pass a server that holds to
    RFC 5322's 998 bytes a line, and arrive whole."""
    reason = "Geen beleid gevonden & " * 60  # one line of about 1,400 characters
    name = 'Bakker & Zn "De Eik" ' * 9  # the badge code's line, escaped, is far longer
    with app.test_request_context():
        registration = {"company_name": name, "contact_name": "Anna", "kvk": "12345678",
                        "list_publicly": True}
        approved = {"registration": registration, "list_url": f"{SITE}/deelnemers/#x",
                    "snippet": f'<a href="{SITE}/deelnemers/#x"><img alt="{name}"></a>'}
        for template, context in (("adoption_rejected", {"registration": registration,
                                                         "reason": reason}),
                                  ("adoption_approved", approved)):
            queue_mail(template, "anna@example.nl", mail_subject(template, **context), template,
                       **context)
        db.session.commit()
    assert deliver(app) == {"sent": 2, "retried": 0, "failed": 0}
    for envelope, _ in smtp.received:
        assert max(len(line) for line in envelope.content.split(b"\r\n")) <= 998
    text, html = parts(smtp.messages[0])
    assert reason.strip() in text and reason.strip().replace("&", "&amp;") in html
    text, html = parts(smtp.messages[1])
    assert approved["snippet"] in text
