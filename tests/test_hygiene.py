"""Keeping nothing by accident: file modes, old traces deleted, erased data gone from the file,
and a production start that refuses to run without what production needs."""

import os
import stat
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailer import create_app
from mailer.cli import housekeeping
from mailer.extensions import db
from mailer.models import OutboxMail, utcnow
from mailer.outbox import queue_mail, send_due_mail


def mode(path: Path) -> int:
    """The permission bits of a file."""
    return stat.S_IMODE(path.stat().st_mode)


def queue(app, addresses, **context):
    """Queue one invitation per address."""
    with app.app_context():
        for address in addresses:
            queue_mail("invitation", address, "Tip van Wilhelmina Zwanenburg", "invitation",
                       voornaam="Wilhelmina", achternaam="Zwanenburg",
                       site_url="https://s.test", site_host="s.test",
                       opt_out_url="https://s.test/afmelden/x", **context)
        db.session.commit()


def test_database_wal_and_mail_files_are_for_the_owner_only(make_app, tmp_path):
    database = tmp_path / "nieuw" / "mailer.sqlite"
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{database}", MAIL_SERVER=None,
                   MAIL_FILE_DIR=str(tmp_path / "mail"))
    with app.app_context():
        db.create_all()
    queue(app, ["een@voorbeeld.nl"])
    with app.app_context():
        assert send_due_mail()["sent"] == 1
    for path in [database, Path(f"{database}-wal"), Path(f"{database}-shm"),
                 *(tmp_path / "mail").glob("*.eml")]:
        assert path.exists() and mode(path) == 0o600, (path, oct(mode(path)))
    assert mode(tmp_path / "mail") == 0o700


def test_no_address_survives_in_the_database_file_after_200_mails_and_housekeeping(app, smtp):
    addresses = [f"geheim{number:03d}.persoon@voorbeeld-{number:03d}.nl" for number in range(200)]
    queue(app, addresses)
    path = Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))

    def raw() -> bytes:
        files = [path, Path(f"{path}-wal"), Path(f"{path}-journal")]
        return b"".join(file.read_bytes() for file in files if file.exists())

    assert b"geheim000.persoon" in raw() and b"Zwanenburg" in raw()  # the check can see them
    with app.app_context():
        while send_due_mail()["sent"]:
            pass
        housekeeping()
    assert len(smtp.messages) == 200
    data = raw()
    assert b"Zwanenburg" not in data and b"Wilhelmina" not in data
    assert not [address for address in addresses if address.encode() in data]
    assert b"geheim" not in data


def test_sent_and_failed_traces_are_deleted_after_30_days(app, smtp):
    queue(app, ["a@voorbeeld.nl", "b@voorbeeld.nl", "c@voorbeeld.nl"])
    with app.app_context():
        send_due_mail()
        rows = db.session.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
        rows[0].finished_at = utcnow() - timedelta(days=31)
        rows[1].finished_at = utcnow() - timedelta(days=29)
        rows[2].status, rows[2].finished_at = "failed", utcnow() - timedelta(days=40)
        db.session.commit()
        housekeeping()
        left = db.session.scalars(select(OutboxMail.id)).all()
        assert left == [rows[1].id]
        queue_mail("invitation", "d@voorbeeld.nl", "Tip", "invitation")
        db.session.commit()
        housekeeping()  # a mail still waiting stays, however old
        assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 2


def test_mail_files_are_deleted_after_7_days(make_app, tmp_path):
    folder = tmp_path / "mail"
    app = make_app(MAIL_SERVER=None, MAIL_FILE_DIR=str(folder))
    queue(app, ["a@voorbeeld.nl", "b@voorbeeld.nl"])
    with app.app_context():
        send_due_mail()
        old, new = sorted(folder.glob("*.eml"))
        eight_days_ago = time.time() - 8 * 86400
        os.utime(old, (eight_days_ago, eight_days_ago))
        housekeeping()
    assert sorted(folder.glob("*.eml")) == [new]


def run_mailer(tmp_path, *args, **env):
    """Run the `mailer` command with only the given MAILER_ settings; its result."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("MAILER_")}
    database = f"sqlite:///{tmp_path / 'cmd.sqlite'}"
    return subprocess.run(
        [Path(sys.executable).with_name("mailer"), *args], capture_output=True, text=True,
        env={**clean, "MAILER_SQLALCHEMY_DATABASE_URI": database, **env}, timeout=60)


def test_without_a_mail_server_the_worker_says_so_loudly(tmp_path):
    result = run_mailer(tmp_path, "worker", "--once", MAILER_SECRET_KEY="s", MAILER_HASH_KEY="h",
                        MAILER_MAIL_FILE_DIR=str(tmp_path / "mail"))
    assert "geen mailserver ingesteld" in result.stderr
    assert str(tmp_path / "mail") in result.stderr


PRODUCTION = {"MAILER_ENV": "production", "MAILER_MAIL_SERVER": "smtp.voorbeeld.nl",
              "MAILER_SECRET_KEY": "geheim", "MAILER_HASH_KEY": "ook-geheim",
              "MAILER_CONTACT_EMAIL": "info@voorbeeld.nl"}


@pytest.mark.parametrize("missing", ["MAILER_MAIL_SERVER", "MAILER_SECRET_KEY",
                                     "MAILER_HASH_KEY", "MAILER_CONTACT_EMAIL"])
def test_production_refuses_to_start_without_what_it_needs(tmp_path, missing):
    env = {key: value for key, value in PRODUCTION.items() if key != missing}
    result = run_mailer(tmp_path, "worker", "--once", **env)
    assert result.returncode != 0
    assert f"deze instellingen ontbreken: {missing}" in result.stderr
    with pytest.raises(RuntimeError, match=missing):
        create_app({key.removeprefix("MAILER_"): value for key, value in env.items()})


def test_production_starts_with_everything_set():
    app = create_app({key.removeprefix("MAILER_"): value for key, value in PRODUCTION.items()}
                     | {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SECRET_KEY"] == "geheim"


@pytest.mark.parametrize("setting", ["CONTACT_EMAIL", "REVIEW_EMAIL"])
@pytest.mark.parametrize("value", ["info@voorbeeld.nl\r\nBcc: x@evil.example",
                                   "Info <info@voorbeeld.nl>", "a@voorbeeld.nl, b@evil.example"])
def test_the_coalitions_addresses_must_be_one_plain_address(setting, value):
    """They go into mail headers (Reply-To, To): a header trick in the setting stops the start."""
    with pytest.raises(RuntimeError, match=f"MAILER_{setting} is geen bruikbaar e-mailadres"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "s", "HASH_KEY": "h",
                    setting: value})
