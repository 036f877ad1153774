"""The self-scan at /zelfscan/: every answer scored, advice for weak principles, nothing stored."""

import hashlib
import html
import re
from pathlib import Path

import pytest
import yaml
from conftest import axe_violations, content_copy, csrf_token, describe_violations, edit
from site_helpers import PRINCIPLES

ROOT = Path(__file__).resolve().parent.parent
SCAN = yaml.safe_load((ROOT / "content" / "zelfscan.yml").read_text(encoding="utf-8"))
QUESTIONS = SCAN["vragen"]
TITLES = PRINCIPLES  # the question of each principle, in the same order


def best(question: dict) -> int:
    """The index of the answer with the most points."""
    points = [answer["punten"] for answer in question["antwoorden"]]
    return points.index(max(points))


def answers(**chosen: int) -> dict:
    """Form data with the best answer everywhere, except `vraag_<n>=<index>` as given."""
    data = {f"vraag_{n}": str(best(q)) for n, q in enumerate(QUESTIONS, start=1)}
    data.update({name: str(index) for name, index in chosen.items()})
    return data


def text_of(page: str) -> str:
    """The visible text of an HTML page, tags dropped and whitespace collapsed."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def post(client, data: dict):
    """Post answers with a fresh CSRF token, as a browser would after opening the page."""
    token = csrf_token(client.get("/zelfscan/").get_data(as_text=True))
    return client.post("/zelfscan/", data={"csrf_token": token, **data})


def test_one_question_per_principle_in_order():
    """Ten questions, one per principle, with three or four answers scored 0 up to 3."""
    assert [q["principe"] for q in QUESTIONS] == list(range(1, 11))
    assert [q["titel"] for q in QUESTIONS] == TITLES
    for question in QUESTIONS:
        assert 3 <= len(question["antwoorden"]) <= 4
        points = [answer["punten"] for answer in question["antwoorden"]]
        assert min(points) == 0 and max(points) == 3
        assert question["advies"].strip()


def test_every_principle_link_lands_on_its_heading(site_dir):
    """Each question's anchor is the id of that principle's heading on the policy page."""
    page = (site_dir / "incassobeleid" / "index.html").read_text(encoding="utf-8")
    for question in QUESTIONS:
        heading = re.search(rf'<h3 id="{re.escape(question["anker"])}">(.*?)</h3>', page)
        assert heading, question["anker"]
        assert heading.group(1) == f'{question["principe"]}. {question["titel"]}'


def test_the_page_shows_every_question_and_answer(client):
    """Without any answers the page lists ten fieldsets, each answer a labelled radio button."""
    response = client.get("/zelfscan/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count("<fieldset") == 10
    assert "<!-- mailer:form -->" not in page
    for number, question in enumerate(QUESTIONS, start=1):
        assert html.escape(question["vraag"], quote=False) in page
        for index, answer in enumerate(question["antwoorden"]):
            assert f'id="vraag_{number}-{index}"' in page
            assert f'<label for="vraag_{number}-{index}">' in page
            assert html.escape(answer["tekst"], quote=False) in page
    assert not re.search(r"<input[^>]*\bchecked", page)


CASES = [(n, index) for n, q in enumerate(QUESTIONS, start=1)
         for index in range(len(q["antwoorden"]))]


@pytest.mark.parametrize(("number", "index"), CASES)
def test_every_answer_scores_its_points_and_advice(client, number, index):
    """Each answer of each question: its points on the result, the advice only when weak."""
    question = QUESTIONS[number - 1]
    answer = question["antwoorden"][index]
    response = post(client, answers(**{f"vraag_{number}": index}))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    text = text_of(page)
    total = 30 - 3 + answer["punten"]
    assert f"U haalt {total} van de 30 punten" in text
    items = re.findall(r'<li class="sc-result__score">(.*?)</li>', page, re.S)
    assert len(items) == 10
    assert f"{answer['punten']} van 3 punten" in text_of(items[number - 1])
    assert html.escape(answer["tekst"], quote=False) in items[number - 1]
    advice = " ".join(question["advies"].split())
    link = f'href="/incassobeleid/#{re.escape(question["anker"])}"[^>]*>Lees principe'
    if answer["punten"] < 3:
        assert advice in text
        assert re.search(f"{link} {number}: ", page)
    else:
        assert advice not in text
        assert not re.search(link, page)
    for way in SCAN["verder"]:
        assert f'href="{way["link"]}"' in page


def test_all_best_answers_give_the_top_verdict_and_no_advice(client):
    """Thirty of thirty points: the top verdict, and the message that nothing needs work."""
    text = text_of(post(client, answers()).get_data(as_text=True))
    assert "U haalt 30 van de 30 punten (100%)" in text
    assert SCAN["uitslagen"][0]["kop"] in text
    assert " ".join(SCAN["geen_advies"].split()) in text
    assert "Lees principe" not in text


def test_all_lowest_answers_give_ten_steps_weakest_first(client):
    """Zero points: the lowest verdict and all ten next steps, in the order of the principles."""
    page = post(client, answers(**{f"vraag_{n}": 0 for n in range(1, 11)})).get_data(as_text=True)
    text = text_of(page)
    assert "U haalt 0 van de 30 punten (0%)" in text
    assert SCAN["uitslagen"][-1]["kop"] in text
    links = re.findall(r">Lees principe (\d+): ", page)
    assert links == [str(n) for n in range(1, 11)]


def test_weakest_principles_come_first(client):
    """Advice is ordered by score: a 0 before a 1, whatever the principle's number."""
    page = post(client, answers(vraag_2=1, vraag_9=0)).get_data(as_text=True)
    assert re.findall(r">Lees principe (\d+): ", page) == ["9", "2"]


def test_missing_answers_are_named_and_the_given_ones_kept(client):
    """Unanswered questions: the form again, each missing one named, chosen answers still chosen."""
    data = answers()
    del data["vraag_3"], data["vraag_7"]
    data["vraag_1"] = "1"
    response = post(client, data)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<title>Fout: beantwoord alle vragen" in page
    assert '<a href="#vraag_3-0">Kies een antwoord bij vraag 3.</a>' in page
    assert '<a href="#vraag_7-0">Kies een antwoord bij vraag 7.</a>' in page
    assert "vraag 1." not in page
    assert re.search(r'<input checked id="vraag_1-1"|id="vraag_1-1"[^>]*checked', page)
    assert 'aria-describedby="vraag_3-error"' in page


@pytest.mark.parametrize("value", ["", "9", "-1", "x", "1.0"])
def test_an_answer_that_was_not_offered_is_refused(client, value):
    """A posted value that is not one of the answers counts as no answer."""
    page = post(client, {**answers(), "vraag_5": value}).get_data(as_text=True)
    assert "Kies een antwoord bij vraag 5." in page
    assert "Uw uitslag" not in page


def test_without_csrf_token_the_questions_come_back(client):
    """A post without the form's token (an old tab): status 400 and the empty questions."""
    response = client.post("/zelfscan/", data=answers())
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Uw formulier is verlopen" in page
    assert page.count("<fieldset") == 10


def test_nothing_is_stored(app, client):
    """Scoring writes nothing: the database file is byte for byte the same afterwards."""
    database = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    client.get("/zelfscan/")
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    for index in range(3):
        assert post(client, answers(vraag_1=index)).status_code == 200
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before


def test_staff_edits_to_the_data_file_show_at_once(app, client, tmp_path):
    """A changed question in the data file shows on the next request, without a restart."""
    app.config["CONTENT_DIR"] = str(content_copy(tmp_path))
    new = "Werkt uw team met een belscript?"
    assert new not in client.get("/zelfscan/").get_data(True)
    edit(tmp_path / "content" / "zelfscan.yml", QUESTIONS[0]["vraag"], new)
    assert new in client.get("/zelfscan/").get_data(True)


def test_a_version_that_fails_its_check_keeps_the_last_good_questions(app, client, tmp_path):
    """A question left without answers is refused; the scan goes on with the last good file."""
    app.config["CONTENT_DIR"] = str(content_copy(tmp_path))
    assert QUESTIONS[0]["vraag"] in client.get("/zelfscan/").get_data(True)
    edit(tmp_path / "content" / "zelfscan.yml", "    antwoorden:\n", "    antwoord:\n")
    page = client.get("/zelfscan/")
    assert page.status_code == 200 and QUESTIONS[0]["vraag"] in page.get_data(True)


# -- in the browser -------------------------------------------------------------------------------


def open_scan(browser, live: str, width: int, **ctx):
    """A fresh browser page on the self-scan (the CSP bypassed only so axe can be injected)."""
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True, **ctx)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live + "/zelfscan/")
    return page, errors


def answer_all(page, index_of) -> None:
    """Click one answer per question, chosen by `index_of(question_number)`."""
    for number in range(1, 11):
        page.locator(f"#vraag_{number}-{index_of(number)}").check()


@pytest.mark.browser
@pytest.mark.parametrize("javascript", [True, False])
@pytest.mark.parametrize("width", [320, 390, 1280])
def test_scan_in_the_browser_passes_axe_at_every_step(browser, live, width, javascript):
    """Questions, missing answers and result: zero axe violations, no sideways scroll."""
    page, errors = open_scan(browser, live, width, java_script_enabled=javascript)
    try:
        steps = []
        steps.append(("vragen", axe_violations(page) if javascript else []))
        page.locator("#vraag_1-0").check()
        page.get_by_role("button", name="Bekijk uw uitslag").click()
        page.wait_for_load_state()
        assert page.get_by_role("link", name="Kies een antwoord bij vraag 2.").is_visible()
        steps.append(("fouten", axe_violations(page) if javascript else []))
        answer_all(page, lambda n: n % 3)
        page.get_by_role("button", name="Bekijk uw uitslag").click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", level=1).inner_text().startswith("Uw uitslag")
        assert page.locator(".sc-result__score").count() == 10
        steps.append(("uitslag", axe_violations(page) if javascript else []))
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{overflow}px sideways scroll at {width}px"
        for name, violations in steps:
            assert not violations, f"axe, {name} at {width}px:\n{describe_violations(violations)}"
        assert not errors
    finally:
        page.context.close()


@pytest.mark.browser
def test_printed_result_has_no_navigation_and_writes_links_out(browser, live):
    """Printed, the result keeps its content, drops the navigation and shows where links go."""
    page, _ = open_scan(browser, live, 1280)
    try:
        answer_all(page, lambda n: 0)
        page.get_by_role("button", name="Bekijk uw uitslag").click()
        page.wait_for_load_state()
        page.emulate_media(media="print")
        assert not page.locator(".md-header").is_visible()
        assert not page.locator(".md-tabs").is_visible()
        assert page.locator(".sc-result__score").first.is_visible()
        after = page.evaluate(
            "getComputedStyle(document.querySelector('.sc-result__advice a'), '::after').content")
        assert "/incassobeleid/#" in after
        assert page.locator(".sc-print-header").is_visible()
        pdf = page.pdf(format="A4")
        assert pdf.startswith(b"%PDF")
    finally:
        page.context.close()
