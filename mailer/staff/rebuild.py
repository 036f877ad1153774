"""The site rebuilt after a change to the adopters, so every page tells the truth within a minute.

A change only marks the site as out of date (`mark_changed`, in the change's own transaction).
The outbox worker looks every few seconds (`rebuild_if_due`): once a burst of changes has been
quiet for a few seconds, or has gone on for half a minute, one worker claims the build in the
database (so two workers never build at once) and takes the steps of `make build`: the count
and list the templates read (`mailer site-data`), the build into a new folder, and
`finish_site`, which swaps it in whole. Only then is the change recorded as shown, which is what
the overview reads. A failed build is logged, the old site stays, and the build is tried again a
minute later; a build whose worker died is claimed again once its claim is older than a build
can take.
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

from .. import ROOT  # where mkdocs.yml is
from ..build import finish_site, write_site_data
from ..extensions import begin_write, db
from ..models import Setting, utcnow

log = logging.getLogger(__name__)
CHANGED = "site_changed_at"  # the last change to the public count or list
SHOWN = "site_shown_for"  # the change the served site shows: set once its build is swapped in
BUILT = "site_built_for"  # the change the last build (or the build under way) covers: the claim
CLAIMED = "site_build_claimed_at"  # when that claim was made
CLAIM_SECONDS = 900  # longer than any build takes (its command times out after 300 seconds)
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
    changed, shown = db.session.get(Setting, CHANGED), db.session.get(Setting, SHOWN)
    pending = changed is not None and (shown is None or shown.value != changed.value)
    db.session.rollback()
    if not pending:
        return None
    begin_write()
    # Locked on PostgreSQL, so of several workers only one claims a build.
    changed = db.session.get(Setting, CHANGED, with_for_update=True)
    shown, built = db.session.get(Setting, SHOWN), db.session.get(Setting, BUILT)
    if changed is None or (shown is not None and shown.value == changed.value):
        db.session.rollback()
        return None
    if not _claim_expired(now):
        # Another worker is building: one build at a time, so the newest is swapped in last.
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
    claimed = changed.value
    _set(BUILT, claimed)
    _set(CLAIMED, now.isoformat())
    _set(SINCE, now.isoformat())  # a change made during the build starts the next burst
    db.session.commit()
    try:
        data = build()
    except Exception:
        log.exception("Site opnieuw bouwen mislukt; de vorige site blijft staan")
        db.session.rollback()  # the data's read, before the write that gives the build back
        begin_write()
        _set(BUILT, before)
        _set(CLAIMED, NEVER)  # given back, also when it took over a dead worker's claim
        retry = now + timedelta(seconds=config["SITE_REBUILD_RETRY_SECONDS"])
        _set(RETRY, retry.isoformat())
        db.session.commit()
        return False
    db.session.rollback()  # ends the data's read
    begin_write()
    shown = db.session.get(Setting, SHOWN)
    if shown is None or datetime.fromisoformat(shown.value) < datetime.fromisoformat(claimed):
        _set(SHOWN, claimed)  # the served site now shows this change
    _set(CLAIMED, NEVER)  # the next change may be built
    db.session.commit()
    log.info("Site opnieuw gebouwd: %d deelnemers, %d op de lijst",
             data["count"], len(data["adopters"]))
    return True


def _claim_expired(now: datetime) -> bool:
    """Whether the build claimed last was given back, or its worker died before it ended."""
    claimed = db.session.get(Setting, CLAIMED)
    if claimed is None or claimed.value == NEVER:
        return True
    return now - datetime.fromisoformat(claimed.value) >= timedelta(seconds=CLAIM_SECONDS)


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
        select(Setting.key, Setting.value).where(Setting.key.in_([CHANGED, SHOWN, RETRY]))).all())
    retry = values.get(RETRY)
    failed = retry is not None and datetime.fromisoformat(retry) > utcnow()
    return {"current": values.get(CHANGED) in (None, values.get(SHOWN)), "failed": failed,
            "retry_at": datetime.fromisoformat(retry) if failed else None}
