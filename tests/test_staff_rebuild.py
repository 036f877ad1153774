"""The site tells the truth within a minute: the outbox worker rebuilds it after staff change the
adopters, once per burst, swapped in whole; a failed build leaves the old site."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import TEST_KEYS
from sqlalchemy import select
from test_staff import add_registration, add_staff, post, sign_in

from mailer.extensions import db
from mailer.models import Setting, utcnow
from mailer.staff import rebuild

MAILER = Path(sys.executable).parent / "mailer"


@pytest.fixture
def own_site(tmp_path, site_dir) -> Path:
    """A copy of the built site that this test's rebuilds may replace."""
    return Path(shutil.copytree(site_dir, tmp_path / "public" / "site", symlinks=True))


def count_on(client, path: str) -> str:
    """The count a served page shows without JavaScript."""
    html = client.get(path).get_data(as_text=True)
    match = re.search(r"data-adoptions-count>\s*(\d+)\s*<", html)
    assert match, f"geen teller op {path}"
    return match.group(1)


def start_worker(app, poll: float = 0.5) -> subprocess.Popen:
    """`mailer worker` as deployed: its own process, on this test's database and site."""
    config = app.config
    env = {**os.environ,
           **{f"MAILER_{key}": str(config[key]) for key in (
               "SQLALCHEMY_DATABASE_URI", "SITE_DIR", "SITE_URL", "MAIL_SERVER", "MAIL_PORT",
               "SITE_REBUILD_QUIET_SECONDS")},
           **{f"MAILER_{key}": value for key, value in TEST_KEYS.items()}}
    return subprocess.Popen([str(MAILER), "worker", "--poll", str(poll)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_approval_and_unlisting_show_on_the_served_site_within_a_minute(make_app, own_site):
    """After an approval and an unlisting, / and /deelnemers/ (no JavaScript) tell the truth."""
    app = make_app(SITE_DIR=str(own_site), SITE_REBUILD_QUIET_SECONDS=1)
    add_staff(app)
    staff = app.test_client()
    sign_in(staff)
    pending = add_registration(app, kvk="11111111", name="Waterbedrijf Oost")
    withdrawn = add_registration(app, status="approved", kvk="22222222", name="Oud Incasso")
    visitor = app.test_client()
    assert count_on(visitor, "/") == "25"  # the build of before these changes
    worker = start_worker(app)
    try:
        post(staff, f"/beheer/aanmeldingen/{pending}/goedkeuren", page="/beheer/aanmeldingen/")
        post(staff, f"/beheer/deelnemers/{withdrawn}/van-de-lijst", page="/beheer/deelnemers/")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and count_on(visitor, "/") != "27":
            time.sleep(1)
        assert count_on(visitor, "/") == "27"
        assert count_on(visitor, "/deelnemers/") == "27"
        listed = visitor.get("/deelnemers/").get_data(as_text=True)
        assert "Waterbedrijf Oost" in listed
        assert "Oud Incasso" not in listed
        assert visitor.get("/deelnemers/oud-incasso/badge.svg").status_code == 404
        assert visitor.get("/api/adoptions/count").get_json()["count"] == 27
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=60)[0]
    assert output.count("Site opnieuw gebouwd") == 1, output  # one build for the burst
    assert not list(own_site.parent.glob(".site-*")), "a half build was left behind"


def test_a_failed_build_is_logged_and_the_old_site_stays(make_app, own_site, caplog):
    """A build that fails swaps nothing in, says so in the log, and is tried again later."""
    failing = f"{sys.executable} -c 'raise SystemExit(\"kapot\")' {{dest}}"
    app = make_app(SITE_DIR=str(own_site), SITE_BUILD_COMMAND=failing,
                   SITE_REBUILD_QUIET_SECONDS=0)
    before = (own_site / "index.html").read_bytes()
    inode = own_site.stat().st_ino
    with app.app_context():
        rebuild.mark_changed()
        db.session.commit()
        assert rebuild.rebuild_if_due() is False
        assert rebuild.rebuild_if_due() is None  # not again before the retry time
        changed = db.session.get(Setting, rebuild.CHANGED).value
        built = db.session.scalar(select(Setting.value).where(Setting.key == rebuild.BUILT))
        assert built != changed  # still to be built
    assert "Site opnieuw bouwen mislukt" in caplog.text and "kapot" in caplog.text
    with app.test_request_context():
        assert rebuild.status()["failed"] is True  # the overview says so
    assert own_site.stat().st_ino == inode
    assert (own_site / "index.html").read_bytes() == before
    assert not list(own_site.parent.glob(".site-*"))


def test_nothing_is_built_while_nothing_changed_or_a_burst_goes_on(make_app, own_site):
    """No change, no build; a change younger than the quiet time waits for the burst's end."""
    app = make_app(SITE_DIR=str(own_site), SITE_REBUILD_QUIET_SECONDS=3600,
                   SITE_BUILD_COMMAND="false {dest}")
    with app.app_context():
        assert rebuild.rebuild_if_due() is None
        rebuild.mark_changed()
        db.session.commit()
        assert rebuild.rebuild_if_due() is None


def test_the_overview_says_busy_until_the_build_is_swapped_in(make_app, own_site, monkeypatch):
    """While the worker builds, the overview says the site is still being updated; only a build
    that was swapped in makes it say the site shows the latest change."""
    app = make_app(SITE_DIR=str(own_site), SITE_REBUILD_QUIET_SECONDS=0)
    seen = []

    def build() -> dict:
        seen.append(rebuild.status())
        return {"count": 25, "adopters": []}

    monkeypatch.setattr(rebuild, "build", build)
    with app.app_context():
        rebuild.mark_changed()
        db.session.commit()
        assert rebuild.status()["current"] is False
        assert rebuild.rebuild_if_due() is True
        assert [status["current"] for status in seen] == [False]  # busy during the build
        assert rebuild.status()["current"] is True
        assert rebuild.rebuild_if_due() is None  # nothing left to build


def test_a_build_whose_worker_died_is_built_again(make_app, own_site, monkeypatch):
    """A worker killed mid-build leaves its claim: the change is not shown, and once the claim
    is older than any build takes, a worker builds it; until then no second build starts."""
    app = make_app(SITE_DIR=str(own_site), SITE_REBUILD_QUIET_SECONDS=0)
    builds = []

    def killed() -> dict:
        builds.append("killed")
        raise SystemExit("SIGTERM")  # not an Exception: nothing gives the claim back

    def build() -> dict:
        builds.append("built")
        return {"count": 25, "adopters": []}

    with app.app_context():
        rebuild.mark_changed()
        db.session.commit()
        monkeypatch.setattr(rebuild, "build", killed)
        with pytest.raises(SystemExit):
            rebuild.rebuild_if_due()
        db.session.rollback()
        assert rebuild.status()["current"] is False
        monkeypatch.setattr(rebuild, "build", build)
        assert rebuild.rebuild_if_due() is None  # claimed a moment ago: it may still be busy
        later = utcnow() + timedelta(seconds=rebuild.CLAIM_SECONDS)
        assert rebuild.rebuild_if_due(later) is True
        assert builds == ["killed", "built"]
        assert rebuild.status()["current"] is True


def test_a_change_during_a_build_waits_for_it_so_the_newest_is_swapped_in_last(
        make_app, own_site, monkeypatch):
    """Another worker does not start a second build while one runs (the older one could be
    swapped in after it); the change made meanwhile is built next."""
    app = make_app(SITE_DIR=str(own_site), SITE_REBUILD_QUIET_SECONDS=0)
    during = []

    def build() -> dict:
        if not during:
            with app.app_context():  # another worker, while this build runs
                rebuild.mark_changed()
                db.session.commit()
                during.append(rebuild.rebuild_if_due(utcnow() + timedelta(seconds=5)))
        return {"count": 25, "adopters": []}

    monkeypatch.setattr(rebuild, "build", build)
    with app.app_context():
        rebuild.mark_changed()
        db.session.commit()
        assert rebuild.rebuild_if_due() is True
        assert during == [None]  # no second build at the same time
        assert rebuild.status()["current"] is False  # the newer change is not shown yet
        assert rebuild.rebuild_if_due(utcnow() + timedelta(seconds=10)) is True
        assert rebuild.status()["current"] is True
