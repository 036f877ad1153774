"""The self-scan "Hoe sociaal is uw incassobeleid?" at /zelfscan/: scored by the server, not kept.

Questions, answers, advice and verdicts live in one file staff edit, `content/zelfscan.yml`; it is
read again whenever it changes. The answers are scored from the posted form and shown at once: no
row, no count, no log line keeps them.
"""

from dataclasses import dataclass

from flask import Blueprint, render_template
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from wtforms import RadioField, SelectChoice
from wtforms.validators import StopValidation

from .pages import render_page
from .words import fill, words

bp = Blueprint("selfscan", __name__)
PAGE = "zelfscan/"


@dataclass(frozen=True)
class Score:
    """The outcome for one principle: the question, the chosen answer and its points."""

    question: dict
    answer: str
    points: int
    maximum: int
    level: str

    @property
    def weak(self) -> bool:
        """True when a better answer exists, so the advice applies."""
        return self.points < self.maximum


def load_scan() -> dict:
    """The self-scan's data file, `content/zelfscan.yml`, read again only after it changed."""
    return words("zelfscan", check=check_scan)


def check_scan(scan: dict) -> None:
    """ValueError naming what is wrong in a version of the data file, so it is not used."""
    if not scan.get("vragen") or not scan.get("uitslagen"):
        raise ValueError("content/zelfscan.yml heeft vragen en uitslagen nodig")
    for number, question in enumerate(scan["vragen"], start=1):
        for key in ("principe", "titel", "anker", "vraag", "antwoorden", "advies"):
            if key not in question:
                raise ValueError(f"content/zelfscan.yml: vraag {number} mist '{key}'")
        if not 2 <= len(question["antwoorden"]) <= 5:
            raise ValueError(f"content/zelfscan.yml: vraag {number} heeft 2 tot 5 antwoorden nodig")
        for answer in question["antwoorden"]:
            if not isinstance(answer.get("punten"), int) or not answer.get("tekst"):
                raise ValueError(f"content/zelfscan.yml: vraag {number}: elk antwoord heeft tekst "
                                 "en punten")


def answered(number: int, message: str):
    """A validator: one of the offered answers was chosen for question `number`."""

    def check(form, field):
        if field.data not in {choice.value for choice in field.choices}:
            raise StopValidation(message)

    return check


def scan_form(scan: dict, **kwargs) -> FlaskForm:
    """A form with one group of radio buttons per question of `scan`."""

    class SelfScanForm(FlaskForm):
        class Meta:
            locales = ["nl"]

    for number, question in enumerate(scan["vragen"], start=1):
        choices = [SelectChoice(str(index), answer["tekst"])
                   for index, answer in enumerate(question["antwoorden"])]
        field = RadioField(question["vraag"], choices=choices, validate_choice=False,
                           validators=[answered(number, fill(scan["woorden"]["kies_antwoord"],
                                                             nummer=number))])
        setattr(SelfScanForm, f"vraag_{number}", field)
    return SelfScanForm(**kwargs)


def score(scan: dict, form: FlaskForm) -> list[Score]:
    """The score per principle, in the order of the questions, from a validated form."""
    levels = scan["niveaus"]
    scores = []
    for number, question in enumerate(scan["vragen"], start=1):
        answer = question["antwoorden"][int(form[f"vraag_{number}"].data)]
        maximum = max(option["punten"] for option in question["antwoorden"])
        points = answer["punten"]
        if points >= maximum:
            level = levels["sterk"]
        elif points * 2 >= maximum:
            level = levels["op_weg"]
        else:
            level = levels["zwak"]
        scores.append(Score(question, answer["tekst"], points, maximum, level))
    return scores


def verdict(scan: dict, percent: int) -> dict:
    """The verdict whose threshold is the highest one `percent` reaches."""
    ordered = sorted(scan["uitslagen"], key=lambda candidate: -candidate["vanaf"])
    for candidate in ordered:
        if percent >= candidate["vanaf"]:
            return candidate
    return ordered[-1]


def questions(scan: dict, form: FlaskForm) -> list[tuple[dict, object]]:
    """Each question beside its form field, for the template."""
    return [(question, form[f"vraag_{number}"])
            for number, question in enumerate(scan["vragen"], start=1)]


@bp.get("/zelfscan/")
def start():
    """Show the questions, none answered."""
    scan = load_scan()
    return render_form(scan, scan_form(scan, formdata=None))


@bp.post("/zelfscan/")
def result():
    """Score the answers and show the result; unanswered questions send the visitor back."""
    scan = load_scan()
    form = scan_form(scan)
    if not form.validate_on_submit():
        return render_form(scan, form)
    scores = score(scan, form)
    total = sum(item.points for item in scores)
    maximum = sum(item.maximum for item in scores)
    percent = round(100 * total / maximum) if maximum else 0
    advice = sorted((item for item in scores if item.weak),
                    key=lambda item: (item.points / item.maximum, item.question["principe"]))
    body = render_template("selfscan/result.html", scan=scan, scores=scores, advice=advice,
                           total=total, maximum=maximum, percent=percent,
                           verdict=verdict(scan, percent))
    return render_page(PAGE, body, title=scan["woorden"]["titel"], replace=True)


@bp.errorhandler(CSRFError)
def csrf_failed(error):
    """An old tab or cookies off: the questions again, with a plain request to answer again."""
    scan = load_scan()
    form = scan_form(scan, formdata=None)
    form.form_errors.append(scan["woorden"]["verlopen"])
    return render_form(scan, form, status=400)


def render_form(scan: dict, form: FlaskForm, status: int = 200):
    """The questions inside the built page, with 'Fout:' in the title when answers are missing."""
    body = render_template("selfscan/form.html", scan=scan, form=form,
                           questions=questions(scan, form))
    title = scan["woorden"]["fout_titel"] if form.errors else None
    return render_page(PAGE, body, title=title, status=status)
