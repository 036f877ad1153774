"""The overview's figures, its chart (SVG drawn here, no script), and the sample mails."""

from datetime import date, datetime, time, timedelta

from flask import current_app
from markupsafe import escape
from sqlalchemy import func, select

from ..adoptions import registry
from ..adoptions.forms import SECTORS, slugify
from ..extensions import db
from ..invites.email import invitation
from ..models import OptOut, OutboxMail, Registration, WeeklyTips, utcnow
from ..outbox import mail_subject, render_mail
from .review import review_mail_values

TIP = "invitation"  # the outbox kind of a tip to a colleague
TIPS = (OutboxMail.kind == TIP, OutboxMail.status != "failed")  # the tips that count


def _count(statement) -> int:
    """The number one count statement gives."""
    return db.session.scalar(statement) or 0


def _per_week(moment, *where) -> dict[date, int]:
    """How many rows match `where` in each week of `moment`, by the week's Monday, counted by
    the database: SQLite's and PostgreSQL's own way to find a week's Monday. (SQLite takes the
    day first: its modifiers round the time to milliseconds, which moves Sunday 23:59:59.9995
    into the next week.)"""
    monday = func.date(func.date(moment), "weekday 0", "-6 days") \
        if db.session.get_bind().dialect.name == "sqlite" \
        else func.date(func.date_trunc("week", moment))
    counted = db.session.execute(select(monday, func.count()).where(*where).group_by(monday))
    return {week if isinstance(week, date) else date.fromisoformat(week): number
            for week, number in counted}


def counts() -> dict:
    """The figures of the overview, each one query."""
    now = utcnow()
    week = datetime.combine(now.date() - timedelta(days=now.weekday()), time())
    month = datetime.combine(now.date().replace(day=1), time())

    def registrations(status: str) -> int:
        return _count(select(func.count()).select_from(Registration)
                      .where(Registration.status == status))

    def tips_since(moment: datetime) -> int:
        return _count(select(func.count()).select_from(OutboxMail)
                      .where(*TIPS, OutboxMail.created_at >= moment))

    def mails(status: str) -> int:
        return _count(select(func.count()).select_from(OutboxMail)
                      .where(OutboxMail.status == status))

    approved, before = registrations("approved"), registry.adopters_before_registry()
    return {
        "count": approved + before,  # the public count
        "approved": approved,
        "before": before,
        "waiting": registrations("pending"),
        "tips_week": tips_since(week),
        "tips_month": tips_since(month),
        "opt_outs": _count(select(func.count()).select_from(OptOut)),
        "queued": mails("queued"),
        "failed": mails("failed"),
    }


def per_week(weeks: int) -> list[dict]:
    """Approvals and tips per week (Monday to Sunday) for the last `weeks` weeks, oldest first."""
    today = utcnow().date()
    first = today - timedelta(days=today.weekday(), weeks=weeks - 1)
    start = datetime.combine(first, time())
    approved = _per_week(Registration.decided_at, Registration.status == "approved",
                         Registration.decided_at >= start)
    tips = _per_week(OutboxMail.created_at, *TIPS, OutboxMail.created_at >= start)
    # Weeks whose mails' traces are gone (after 30 days) have their count kept.
    kept = dict(db.session.execute(select(WeeklyTips.week, WeeklyTips.tips)
                                   .where(WeeklyTips.week >= first)).all())
    return [{"week": week, "adoptions": approved.get(week, 0),
             "tips": max(tips.get(week, 0), kept.get(week, 0))}
            for week in (first + timedelta(weeks=n) for n in range(weeks))]


def keep_weekly_tips() -> None:
    """Store the tips per week while the outbox still holds their traces; run before those go.

    A week's stored count only grows: once traces are deleted, the live count drops, the kept
    one stays.
    """
    for week, tips in _per_week(OutboxMail.created_at, *TIPS).items():
        row = db.session.get(WeeklyTips, week)
        if row is None:
            db.session.add(WeeklyTips(week=week, tips=tips))
        elif tips > row.tips:
            row.tips = tips


def week_label(week: date) -> str:
    """A week as staff read it: its Monday, e.g. 23-11."""
    return f"{week.day}-{week.month}"


def chart_svg(rows: list[dict]) -> str:
    """A bar chart of adoptions and tips per week, as SVG text; the table beside it has the
    same numbers for screen readers and for reading exact values."""
    width, height, left, bottom, top = 640, 260, 40, 40, 20
    plot_height = height - bottom - top
    highest = max([1] + [max(row["adoptions"], row["tips"]) for row in rows])
    step = (width - left - 10) / max(1, len(rows))
    bar = step * 0.35
    parts = [
        f'<svg class="staff-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} '
        f'{height}" role="img" aria-labelledby="chart-title chart-desc">',
        '<title id="chart-title">Goedkeuringen en tips per week</title>',
        '<desc id="chart-desc">Staafdiagram; dezelfde aantallen staan in de tabel eronder.</desc>',
        f'<line x1="{left}" y1="{top + plot_height}" x2="{width - 10}" y2="{top + plot_height}" '
        'stroke="currentColor"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="12" '
        f'fill="currentColor">{highest}</text>',
        f'<text x="{left - 6}" y="{top + plot_height}" text-anchor="end" font-size="12" '
        'fill="currentColor">0</text>',
    ]
    for n, row in enumerate(rows):
        x = left + n * step + step * 0.1
        for offset, key, colour in ((0, "adoptions", "#1b5e20"), (bar, "tips", "#0d47a1")):
            value = row[key]
            bar_height = plot_height * value / highest
            parts.append(f'<rect class="staff-chart__{key}" x="{x + offset:.1f}" '
                         f'y="{top + plot_height - bar_height:.1f}" width="{bar:.1f}" '
                         f'height="{bar_height:.1f}" fill="{colour}"/>')
        parts.append(f'<text x="{x + bar:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                     f'font-size="11" fill="currentColor">{escape(week_label(row["week"]))}'
                     '</text>')
    legend_y = height - 8
    parts += [
        f'<rect class="staff-chart__adoptions" x="{left}" y="{legend_y - 10}" width="10" '
        'height="10" fill="#1b5e20"/>',
        f'<text x="{left + 14}" y="{legend_y}" font-size="12" fill="currentColor">'
        'Goedkeuringen</text>',
        f'<rect class="staff-chart__tips" x="{left + 130}" y="{legend_y - 10}" width="10" '
        'height="10" fill="#0d47a1"/>',
        f'<text x="{left + 144}" y="{legend_y}" font-size="12" fill="currentColor">Tips</text>',
        "</svg>",
    ]
    return "\n".join(parts)


SAMPLE_TIP_ADDRESS = "jan.jansen@voorbeeld.nl"  # the made-up colleague of the sample tip


def sample_mails() -> list[dict]:
    """Every mail rendered with made-up data, as the recipient would see it: its subject,
    text and HTML from `content/mails.yml`, as the real mails have them."""
    mails = []
    for name, template, context in sample_contexts():
        text, html = render_mail(template, **context)
        mails.append({"name": name, "subject": mail_subject(template, **context),
                      "template": template, "text": text, "html": html})
    return mails


def sample_contexts() -> list[tuple[str, str, dict]]:
    """Each mail's name for staff, its template and made-up values, as the outbox stores them."""
    site = current_app.config["SITE_URL"]
    registration = {"company_name": "Voorbeeld Energie B.V.", "contact_name": "Sanne de Vries",
                    "kvk": "12345678", "list_publicly": True}
    return [
        ("Tip aan een collega", "invitation",
         invitation({"voornaam": "Jan", "achternaam": "Jansen"}, SAMPLE_TIP_ADDRESS)["context"]),
        ("Aanmelding bevestigen", "adoption_confirmation",
         {"registration": registration, "confirm_url": f"{site}/meedoen/bevestigen/voorbeeld",
          "hours": current_app.config["JOIN_TOKEN_HOURS"], "sector": SECTORS["energie"]}),
        ("Aanmelding goedgekeurd", "adoption_approved",
         {"registration": registration,
          **registry.badge_values(registration["company_name"],
                                  slugify(registration["company_name"]))}),
        ("Aanmelding afgewezen", "adoption_rejected",
         {"registration": registration,
          "reason": "Op uw website vonden wij geen sociaal incassobeleid."}),
        ("Nieuwe aanmelding (aan de beoordelaars)", "review_requested",
         review_mail_values(1, registration, SECTORS["energie"], "https://voorbeeld-energie.nl",
                            True)),
    ]
