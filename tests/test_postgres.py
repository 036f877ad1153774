"""Production runs on PostgreSQL: the migrations apply there, and workers side by side never send
a mail twice (they claim mail with FOR UPDATE SKIP LOCKED)."""

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import free_port, require_installed, run_concurrently
from flask_migrate import upgrade
from sqlalchemy import func, select

from mailer.extensions import db
from mailer.invites.email import SENT, queue_invitations
from mailer.models import OutboxMail
from mailer.outbox import queue_mail


def _pg_bin(name: str) -> str | None:
    """The path of a PostgreSQL server program from Debian's packages, if installed."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else None


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server on 127.0.0.1, run as the postgres user when we are root."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    require_installed(initdb, "postgresql")
    # Not under pytest's own temporary folder: the postgres user cannot enter root's.
    base = Path(tempfile.mkdtemp(prefix="mailer-pg-"))
    data, port = base / "data", free_port()
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(base, "postgres")
    subprocess.run([*as_user, initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    subprocess.run([*as_user, pg_ctl, "-D", data, "-l", base / "log", "-w", "-o",
                    f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                   check=True, capture_output=True)
    yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    subprocess.run([*as_user, pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_app(postgres, make_app):
    """The app on a freshly migrated PostgreSQL schema."""
    app = make_app(SQLALCHEMY_DATABASE_URI=postgres, OUTBOX_BATCH_SIZE=10)
    with app.app_context():
        db.drop_all()
        db.session.execute(db.text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_workers_side_by_side_send_each_mail_once(pg_app, smtp, postgres):
    with pg_app.app_context():
        for number in range(120):
            # The workers are processes of their own: they render the app's own templates.
            queue_mail("invitation", f"collega{number}@example.nl", f"Bericht {number}",
                       "invitation", voornaam="Jan", achternaam="Jansen",
                       site_url="https://s.test", site_host="s.test",
                       opt_out_url="https://s.test/afmelden/x")
        db.session.commit()

    env = {**os.environ, "MAILER_SQLALCHEMY_DATABASE_URI": postgres,
           "MAILER_MAIL_SERVER": "127.0.0.1", "MAILER_MAIL_PORT": str(smtp.port),
           "MAILER_SECRET_KEY": "test-secret", "MAILER_OUTBOX_BATCH_SIZE": "10"}
    mailer = Path(sys.executable).with_name("mailer")
    workers = [subprocess.Popen([mailer, "worker", "--poll", "0.2"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for _ in range(3)]
    try:
        with pg_app.app_context():
            for _ in range(300):  # at most 30 seconds
                sent = db.session.scalar(select(func.count()).where(OutboxMail.status == "sent"))
                db.session.rollback()
                if sent == 120:
                    break
                time.sleep(0.1)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=20)

    recipients = [message["To"] for message in smtp.messages]
    assert len(recipients) == 120
    assert len(set(recipients)) == 120
    with pg_app.app_context():  # the same erasure as on SQLite: no address or values are kept
        kept = db.session.execute(select(OutboxMail.recipient, OutboxMail.subject,
                                         OutboxMail.context)).all()
        assert kept and all(row == (None, None, None) for row in kept)


def test_only_one_approved_registration_per_kvk_on_postgres(pg_app):
    from sqlalchemy.exc import IntegrityError

    from mailer.models import Registration

    def approved(name):
        return Registration(company_name=name, kvk="12345678", sector="energie",
                            contact_name="A", contact_email="a@example.nl", status="approved")

    with pg_app.app_context():
        db.session.add(approved("Eerste"))
        db.session.commit()
        db.session.add(approved("Tweede"))
        with pytest.raises(IntegrityError):
            db.session.commit()


def test_limits_count_exactly_on_postgres(pg_app):
    from datetime import timedelta

    from mailer.limits import count, take

    hour = timedelta(hours=1)
    with pg_app.app_context():
        results = []
        for _ in range(5):
            results.append(not take([("k", [(3, hour)])]))
            db.session.commit()
        assert results == [True, True, True, False, False]
        assert take([("total", [(2, hour)])] * 3) == {"total"}
        db.session.commit()
        assert count("k", hour) == 3
        assert count("total", hour) == 0


def submit(app, number: int, colleagues: list[str], client: str) -> str:
    """One submit in its own request and transaction, as the send view runs it."""
    with app.test_request_context():
        pending = {"voornaam": "Jan", "achternaam": "Jansen", "nonce": f"n{number}",
                   "to": colleagues}
        outcome = queue_invitations(pending, client)
        db.session.commit()
        return outcome


def test_concurrent_invitations_on_postgres_each_commit_once(pg_app):
    """Submits from many threads at once, sharing the daily total: no deadlock, none lost."""
    outcomes = {}

    def send(number):
        outcomes[number] = submit(pg_app, number, [f"collega{number}@bedrijf{number % 3}.example"],
                                  f"client{number}")

    run_concurrently(send, 20)
    assert outcomes == dict.fromkeys(range(20), SENT)
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 20


def test_concurrent_submits_with_several_colleagues_never_deadlock_or_pass_a_limit(pg_app):
    """Three colleagues each, on shared domains, in orders that cross: a total of 30 a day."""
    pg_app.config["INVITE_LIMIT_TOTAL_DAY"] = 30
    domains = ["a.example", "b.example", "c.example"]
    outcomes = {}

    def send(number):
        # Each submit names the domains in another order, so their locks would cross if they
        # were taken in the order given.
        order = domains[number % 3:] + domains[:number % 3]
        colleagues = [f"c{number}@{domain}" for domain in order]
        outcomes[number] = submit(pg_app, number, colleagues, f"client{number}")

    run_concurrently(send, 16)
    assert set(outcomes) == set(range(16))
    assert list(outcomes.values()).count(SENT) == 10  # 10 submits of 3 fill the 30
    with pg_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 30


def test_a_nul_in_a_badge_address_is_a_plain_404_on_postgres(pg_app):
    """PostgreSQL refuses a NUL in a text value with an error: the address never reaches it."""
    response = pg_app.test_client().get("/deelnemers/a%00b/badge.svg")
    assert response.status_code == 404
