"""The site rebuilt after a change to the adopters, so every page tells the truth within a minute.

A change only marks the site as out of date (`mark_changed`, in the change's own transaction).
The outbox worker looks every few seconds (`rebuild_if_due`): once a burst of changes has been
quiet for a few seconds, or has gone on for half a minute, one worker claims the build in the
database (so two workers never build at once) and takes the steps of `make build`: the count
and list the templates read (`mailer site-data`), the build into a new folder, and
`finish_site`, which swaps it in whole. A failed build is logged, the old site stays, and the
build is tried again a minute later.
"""

import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from ..build import finish_site, write_site_data
from ..extensions import begin_write, db
from ..models import Setting, utcnow

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent.parent  # where mkdocs.yml is
CHANGED = "site_changed_at"  # the last change the site does not show yet
BUILT = "site_built_for"  # the change the last build (or the build under way) covers
SINCE = "site_changed_since"  # the first change the site does not show yet
RETRY = "site_build_retry_at"  # after a failed build: not before then
NEVER = "-"
DEFAULT_COMMAND = "mkdocs build --strict --quiet -d {dest}"


def mark_changed() -> None:
    """Record in the caller's transaction that the public count or list changed."""
    changed, built = db.session.get(Setting, CHANGED), db.session.get(Setting, BUILT)
    now = utcnow().isoformat()
    if changed is None or (built is not None and built.value == changed.value):
        _set(SINCE, now)  # the first change of a burst
    _set(CHANGED, now)


def _set(key: str, value: str) -> None:
    """Set a setting's value in the session."""
    setting = db.session.get(Setting, key)
    if setting is None:
        db.session.add(Setting(key=key, value=value))
    else:
        setting.value = value


def rebuild_if_due(now: datetime | None = None) -> bool | None:
    """Build the site if a burst of changes is over; True built, False failed, None not due."""
    now = now or utcnow()
    config = current_app.config
    # A plain read first: most polls find nothing to build and need no write lock.
    changed, built = db.session.get(Setting, CHANGED), db.session.get(Setting, BUILT)
    pending = changed is not None and (built is None or built.value != changed.value)
    db.session.rollback()
    if not pending:
        return None
    begin_write()
    # Locked on PostgreSQL, so of several workers only one claims a build.
    changed = db.session.get(Setting, CHANGED, with_for_update=True)
    built = db.session.get(Setting, BUILT)
    if changed is None or (built is not None and built.value == changed.value):
        db.session.rollback()
        return None
    changed_at = datetime.fromisoformat(changed.value)
    quiet = now - changed_at >= timedelta(seconds=config["SITE_REBUILD_QUIET_SECONDS"])
    since = db.session.get(Setting, SINCE)
    first = datetime.fromisoformat(since.value) if since is not None else changed_at
    waited = now - first >= timedelta(seconds=config["SITE_REBUILD_MAX_WAIT_SECONDS"])
    if not (quiet or waited):
        db.session.rollback()
        return None
    retry_at = db.session.get(Setting, RETRY)
    if retry_at is not None and datetime.fromisoformat(retry_at.value) > now:
        db.session.rollback()
        return None
    # Claim the build: the one transaction that moves BUILT to this change builds it.
    before = built.value if built is not None else NEVER
    _set(BUILT, changed.value)
    _set(SINCE, now.isoformat())  # a change made during the build starts the next burst
    db.session.commit()
    try:
        data = build()
    except Exception:
        log.exception("Site opnieuw bouwen mislukt; de vorige site blijft staan")
        db.session.rollback()  # the data's read, before the write that gives the build back
        begin_write()
        _set(BUILT, before)
        retry = now + timedelta(seconds=config["SITE_REBUILD_RETRY_SECONDS"])
        _set(RETRY, retry.isoformat())
        db.session.commit()
        return False
    db.session.rollback()  # ends the data's read
    log.info("Site opnieuw gebouwd: %d deelnemers, %d op de lijst",
             data["count"], len(data["adopters"]))
    return True


def build() -> dict:
    """Write the count and list (as `mailer site-data` does), build the site from them into a
    new folder and swap it in; raise if anything fails. Returns the data built."""
    site_dir = Path(current_app.config["SITE_DIR"])
    work = Path(tempfile.mkdtemp(prefix=f".{site_dir.name}-build-", dir=site_dir.parent))
    try:
        data_file = work / "site-data.yml"
        data = write_site_data(data_file)
        built = work / "site"
        env = {**os.environ, "MAILER_SITE_DATA": str(data_file),
               "MAILER_SITE_URL": current_app.config["SITE_URL"] + "/"}
        command = current_app.config["SITE_BUILD_COMMAND"] or DEFAULT_COMMAND
        args = [arg.replace("{dest}", str(built)) for arg in shlex.split(command)]
        if args[0] == "mkdocs":  # the one installed beside this service
            args[:1] = [sys.executable, "-m", "mkdocs"]
        result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"{command}: {result.stderr.strip()[-2000:]!r}")  # one log line
        finish_site(built, site_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return data


def status() -> dict:
    """Whether the public site shows the latest change, for the overview."""
    values = dict(db.session.execute(
        select(Setting.key, Setting.value).where(Setting.key.in_([CHANGED, BUILT, RETRY]))).all())
    retry = values.get(RETRY)
    failed = retry is not None and datetime.fromisoformat(retry) > utcnow()
    return {"current": values.get(CHANGED) in (None, values.get(BUILT)), "failed": failed,
            "retry_at": datetime.fromisoformat(retry) if failed else None}
