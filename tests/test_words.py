"""The service's own words come from content/: staff change a label, a message or an answer page
in its data file, and the next visitor reads the new words, without a restart."""

import ast
import logging
import re
from pathlib import Path

import pytest
from conftest import content_copy, csrf_token, edit

from mailer.forms import limited
from mailer.words import MissingWords, markdown, say, words

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def content(tmp_path):
    """A copy of content/'s data files that a test may change, as staff would."""
    return content_copy(tmp_path)


def shown(html: str) -> str:
    """The page's text as a browser shows it: tags out, lines joined."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_changed_label_hint_and_button_show_on_the_next_visit(make_app, content):
    app = make_app(CONTENT_DIR=str(content))
    client = app.test_client()
    assert "Uw voornaam" in client.get("/tip-een-collega/").text
    edit(content / "tip-een-collega.yml", "label: Uw voornaam", "label: Hoe heet u?")
    edit(content / "tip-een-collega.yml", "uitleg: Uw collega ziet uw naam in de e-mail.",
         "uitleg: Zo ziet uw collega u.")
    edit(content / "meedoen.yml", "knop: Aanmelding versturen", "knop: Schrijf ons in")
    page = client.get("/tip-een-collega/").text
    assert '<label for="voornaam">Hoe heet u?</label>' in page
    assert 'id="achternaam-hint">Zo ziet uw collega u.</p>' in page
    assert "Uw voornaam" not in page
    assert ">Schrijf ons in</button>" in client.get("/meedoen/").text


def test_a_changed_error_message_shows_at_its_field(make_app, content):
    edit(content / "meedoen.yml", "kvk: Een KvK-nummer heeft precies 8 cijfers, bijvoorbeeld "
         "12345678.", "kvk: Acht cijfers graag.")
    edit(content / "formulieren.yml", "spaties: Een e-mailadres mag geen spaties bevatten.",
         "spaties: Spaties passen niet in een adres.")
    client = make_app(CONTENT_DIR=str(content)).test_client()
    form = client.get("/meedoen/").text
    page = client.post("/meedoen/", data={
        "csrf_token": csrf_token(form), "company_name": "Voorbeeld BV", "kvk": "123",
        "sector": "water", "contact_name": "Anna", "contact_email": "anna de vries@example.nl",
        "adopted_policy": "y"}).text
    assert re.search(r'id="kvk-error-1">.*?Acht cijfers graag\.</p>', page, re.S)
    assert re.search(r'id="contact_email-error-1">.*?Spaties passen niet in een adres\.</p>',
                     page, re.S)


def test_an_answer_page_is_the_markdown_of_its_data_file(make_app, content):
    edit(content / "tip-een-collega.yml", "    titel: Bedankt voor uw tip\n    tekst: |\n",
         "    titel: Dank u wel\n    tekst: |\n      Uw tip gaat **vandaag** weg.\n\n"
         "      ## Wat nu?\n\n      [Lees verder](/incassobeleid/)\n\n")
    client = make_app(CONTENT_DIR=str(content)).test_client()
    page = client.get("/tip-een-collega/verstuurd/").text
    assert "<title>Dank u wel - " in page
    assert "<h1>Dank u wel</h1>" in page
    assert "<p>Uw tip gaat <strong>vandaag</strong> weg.</p>" in page
    assert "<h2>Wat nu?</h2>" in page
    assert re.search(r'<a href="/incassobeleid/"[^>]*>Lees verder</a>', page)


def test_a_place_is_filled_in_and_its_value_escaped():
    html = markdown("Probeer het over {wacht} opnieuw. {onbekend} en { .klasse } blijven.",
                    wacht='<script>alert("x")</script> & een uur')
    assert "&lt;script&gt;" in html and "<script>" not in html and "&amp; een uur" in html
    assert "{onbekend}" in html
    html = markdown("Over {wacht}.", wacht="*nooit* [klik](javascript:alert(1)) <b>")
    assert html == "<p>Over *nooit* [klik](javascript:alert(1)) &lt;b&gt;.</p>"


def test_the_limit_page_says_how_long_in_the_files_words(make_app, content):
    edit(content / "formulieren.yml", "een_uur: een uur", "een_uur: zestig minuten")
    app = make_app(CONTENT_DIR=str(content), LIMIT_RETRY_AFTER=3600)
    with app.test_request_context():
        response = limited("meedoen/", words("meedoen").paginas.te_veel)
    assert response.status_code == 429 and response.headers["Retry-After"] == "3600"
    assert "Probeer het over zestig minuten opnieuw." in shown(response.get_data(as_text=True))


def test_a_missing_word_names_the_file_and_the_key(make_app, content):
    edit(content / "meedoen.yml", "  bevestigd:\n", "  bevestigd_weg:\n")
    app = make_app(CONTENT_DIR=str(content))
    with app.app_context(), pytest.raises(MissingWords,
                                          match=r"content/meedoen\.yml mist 'paginas\.bevestigd'"):
        say("meedoen", "paginas.bevestigd.titel")


def test_a_file_that_stops_reading_keeps_the_last_good_words(make_app, content, caplog):
    app = make_app(CONTENT_DIR=str(content))
    client = app.test_client()
    assert "Bedankt voor uw tip" in client.get("/tip-een-collega/verstuurd/").text
    edit(content / "tip-een-collega.yml", "velden:\n", "velden: [\n")
    with caplog.at_level(logging.ERROR, logger="mailer.words"):
        page = client.get("/tip-een-collega/verstuurd/")
    assert page.status_code == 200 and "Bedankt voor uw tip" in page.text
    assert "tip-een-collega.yml is niet te lezen" in caplog.text


# -- no visitor sentence in the service's code or templates --------------------------------------

# The modules whose refusals and titles a visitor reads; the staff area speaks to staff.
PUBLIC_MODULES = ["mailer/forms.py", "mailer/pages.py", "mailer/selfscan.py",
                  "mailer/invites/forms.py", "mailer/invites/routes.py",
                  "mailer/adoptions/forms.py", "mailer/adoptions/routes.py"]
# Calls whose text argument a visitor reads.
SPOKEN = {"ValidationError", "StopValidation", "ValueError", "append", "render_page",
          "render_message"}


def names_a_data_file(value: ast.expr) -> bool:
    """True for a text (plain or f-string) that starts with the name of a file in content/."""
    first = value.values[0] if isinstance(value, ast.JoinedStr) else value
    return isinstance(first, ast.Constant) and str(first.value).startswith("content/")


def spoken_literals(source: str) -> list[str]:
    """Sentences written in the code where a visitor reads them: a refusal, a form error, a
    page title. A message that starts with a data file's name ("content/zelfscan.yml: ...") is
    about that file, for staff and developers."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name not in SPOKEN:
            continue
        values = [value for value in node.args if not names_a_data_file(value)]
        values += [k.value for k in node.keywords if k.arg == "title"]
        for value in values:
            for part in ast.walk(value):
                if (isinstance(part, ast.Constant) and isinstance(part.value, str)
                        and re.search(r"[^\W\d_]{2,}\s+[^\W\d_]{2,}", part.value)):
                    found.append(part.value)
    return found


def test_spoken_literals_finds_a_sentence_in_code():
    """The check below can fail: a refusal written in the code is found."""
    assert spoken_literals('raise ValueError("Vul uw naam in.")') == ["Vul uw naam in."]
    assert spoken_literals('form.form_errors.append(f"Te snel, {x}.")') == ["Te snel, "]
    assert spoken_literals('raise ValueError(say("formulieren", "code"))') == []
    assert spoken_literals('raise ValueError(f"content/zelfscan.yml: vraag {n} mist x")') == []


def test_the_public_code_writes_no_sentence_a_visitor_reads():
    found = {module: spoken_literals((ROOT / module).read_text(encoding="utf-8"))
             for module in PUBLIC_MODULES}
    assert not {module: texts for module, texts in found.items() if texts}, found


def test_the_service_templates_hold_no_visitor_text():
    """The forms', answers' and mails' templates take every word from content/."""
    from test_campaign_look import own_text

    folder = ROOT / "mailer" / "templates"
    found = {}
    for template in sorted(folder.rglob("*")):
        if template.is_file() and "staff" not in template.relative_to(folder).parts:
            text = own_text(template.read_text(encoding="utf-8"))
            if text:
                found[template.relative_to(ROOT).as_posix()] = text
    assert not found, found


def strings(value) -> list[str]:
    """Every text in a parsed data file that a visitor reads (not an anchor or a link)."""
    if isinstance(value, dict):
        return [text for key, item in value.items() if key not in ("anker", "link")
                for text in strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings(item)]
    return [value] if isinstance(value, str) else []


def test_the_service_words_follow_the_sites_wording():
    """'u', not 'je', no technical terms, one word for home: as on the pages. The tip to a
    colleague keeps the register of the client's text ("Hoi, Je collega ...")."""
    import yaml
    from test_campaign_look import QUOTED, WORDING

    for path in sorted((ROOT / "content").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if path.name == "mails.yml":
            data.pop("tip")
        for text in strings(data):
            for quote in QUOTED:
                text = text.replace(quote, "")
            for pattern, instead in WORDING.items():
                assert not re.search(pattern, text, re.I), f"{path.name}: {text} ({instead})"
            assert not re.search(r"\bje\b", text, re.I), f"{path.name}: 'je' in {text!r}"
