"""The staff area on PostgreSQL: the log refuses changes, and approval and rebuild claims work."""

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DatabaseError
from test_postgres import pg_app, postgres  # noqa: F401 (fixtures)
from test_staff import (
    add_registration,
    add_staff,
    counts_weeks_from_monday,
    mails_confirmations_out_of_order,
    post,
    sign_in,
)

from mailer.extensions import db
from mailer.models import AuditEntry, Registration
from mailer.staff import rebuild


def approved_by_staff(app) -> tuple:
    """A signed-in staff client, and a registration it approved through the staff area."""
    add_staff(app)
    client = app.test_client()
    sign_in(client)
    registration = add_registration(app)
    post(client, f"/beheer/aanmeldingen/{registration}/goedkeuren", page="/beheer/aanmeldingen/")
    return client, registration


def test_staff_approve_and_the_log_on_postgres(pg_app):  # noqa: F811
    """An approval through the staff area, logged; the database refuses to change the log."""
    client, registration = approved_by_staff(pg_app)
    pg_app.config["SITE_BUILD_COMMAND"] = "false {dest}"
    pg_app.config["SITE_REBUILD_QUIET_SECONDS"] = 0
    with pg_app.app_context():
        assert db.session.get(Registration, registration).status == "approved"
        assert "aanmelding goedgekeurd" in db.session.scalars(select(AuditEntry.action)).all()
        with pytest.raises(DatabaseError, match="niet te wijzigen"):
            db.session.execute(update(AuditEntry).values(action="verzonnen"))
        db.session.rollback()
        assert rebuild.rebuild_if_due() is False  # claimed, failed, released for a retry


def test_tips_per_week_on_postgres(pg_app):  # noqa: F811
    """The weekly count uses PostgreSQL's own week start: a Monday."""
    from mailer.models import OutboxMail, WeeklyTips, utcnow
    from mailer.staff.figures import keep_weekly_tips

    with pg_app.app_context():
        db.session.add(OutboxMail(kind="invitation", status="sent", recipient_hash="x",
                                  template="invitation", message_id="<1@test>",
                                  created_at=utcnow()))
        db.session.commit()
        keep_weekly_tips()
        db.session.commit()
        row = db.session.scalar(select(WeeklyTips))
        assert row.tips == 1 and row.week.weekday() == 0


def test_weeks_start_on_monday_on_postgres(pg_app):  # noqa: F811
    """The overview's weeks count the same on PostgreSQL as on SQLite."""
    counts_weeks_from_monday(pg_app)


def test_a_search_with_a_nul_finds_as_without_it_on_postgres(pg_app):  # noqa: F811
    """A NUL typed or sent in the search is left out, not handed to PostgreSQL (a 500)."""
    client, registration = approved_by_staff(pg_app)
    with pg_app.app_context():
        name = db.session.get(Registration, registration).company_name
    page = client.get("/beheer/deelnemers/", query_string={"q": name[:3] + "\x00" + name[3:6]})
    assert page.status_code == 200 and name in page.get_data(as_text=True)


def test_a_confirmation_committed_after_a_later_stamped_one_is_mailed_on_postgres(pg_app):  # noqa: F811
    """PostgreSQL commits confirmations side by side: their times need not follow their commits."""
    mails_confirmations_out_of_order(pg_app)
