"""Sliding-window rate limits kept in the database, so every web process and worker shares them.

Each allowed action is one `RateEvent` row; a limit counts the rows of its key inside the window.
Keys are keyed hashes (`client_ip_key`, `keyed_hash`), never a raw IP or address.
"""

import fcntl
import ipaddress
import os
import threading
from contextlib import contextmanager
from datetime import timedelta

from flask import current_app
from sqlalchemy import DateTime, bindparam, delete, func, select, text

from .extensions import db
from .models import RateEvent, utcnow
from .security import keyed_hash

# Events older than the longest window of any limit are useless; 30 days is the per-recipient one.
RETENTION_DAYS = 30


Window = tuple[int, timedelta]  # (limit, period): at most `limit` actions per `period`


def hit(key: str, limit: int, period: timedelta) -> bool:
    """Count one action for `key`: True if allowed (and counted), False if over the limit."""
    return hit_all([(key, [(limit, period)])])[0]


def hit_windows(key: str, windows: list[Window]) -> bool:
    """Count one action for `key` against several windows (e.g. 5 an hour and 20 a day) at once."""
    return hit_all([(key, windows)])[0]


def hit_all(actions: list[tuple[str, list[Window]]]) -> list[bool]:
    """Count several actions in two statements; each is allowed (and counted) or refused (not).

    A key named twice counts twice, and is allowed only if all its actions fit. Plain SQL: this
    runs on every submit, and building ORM statements cost more than running them.
    """
    now = utcnow()
    keys = sorted({key for key, _ in actions})
    for key in keys:
        _lock(key)
    # Insert first, then count: on SQLite the insert takes the write lock until the caller's
    # commit, so two processes can never both see room for the last allowed action.
    db.session.execute(INSERT_EVENT, [{"key": key, "at": now} for key, _ in actions])
    pairs = sorted({(key, period) for key, windows in actions for _, period in windows})
    counts = dict(zip(pairs, db.session.execute(*_count_query(pairs, now)).one(), strict=True))
    allowed = [all(counts[key, period] <= limit for limit, period in windows)
               for key, windows in actions]
    for key in {key for (key, _), ok in zip(actions, allowed, strict=True) if not ok}:
        # This call's events of a refused key are exactly those with this key and this moment.
        db.session.execute(DELETE_EVENTS, {"key": key, "at": now})
    return allowed


INSERT_EVENT = text("INSERT INTO rate_event (key, at) VALUES (:key, :at)").bindparams(
    bindparam("at", type_=DateTime())
)
DELETE_EVENTS = text("DELETE FROM rate_event WHERE key = :key AND at = :at").bindparams(
    bindparam("at", type_=DateTime())
)


def _count_query(pairs: list[tuple[str, timedelta]], now) -> tuple:
    """One statement counting each key's events inside its window, and its parameters."""
    columns = ", ".join(
        f"(SELECT count(*) FROM rate_event WHERE key = :k{n} AND at > :s{n})"
        for n in range(len(pairs))
    )
    query = text(f"SELECT {columns}").bindparams(
        *(bindparam(f"s{n}", type_=DateTime()) for n in range(len(pairs)))
    )
    params = {}
    for n, (key, period) in enumerate(pairs):
        params[f"k{n}"], params[f"s{n}"] = key, now - period
    return query, params


def count(key: str, period: timedelta, now=None) -> int:
    """How many actions `key` has inside the window ending now, without counting one."""
    since = (now or utcnow()) - period
    query = select(func.count()).where(RateEvent.key == key, RateEvent.at > since)
    return db.session.scalar(query)


def prune() -> int:
    """Delete events older than the longest window; returns how many went."""
    days = current_app.config.get("RATE_LIMIT_RETENTION_DAYS", RETENTION_DAYS)
    result = db.session.execute(
        delete(RateEvent).where(RateEvent.at <= utcnow() - timedelta(days=days))
    )
    db.session.commit()
    return result.rowcount


def client_ip(request) -> str:
    """The client's address, read from X-Forwarded-For behind `TRUSTED_PROXIES` proxies."""
    address = request.remote_addr or ""
    hops = current_app.config.get("TRUSTED_PROXIES", 0)
    if hops:
        forwarded = [part.strip() for value in request.headers.getlist("X-Forwarded-For")
                     for part in value.split(",") if part.strip()]
        # Each trusted proxy appends what it saw; anything further left can be forged.
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    return address


def client_ip_key(request) -> str:
    """A keyed hash of the client's address, with IPv6 reduced to its /64 (one subscriber)."""
    address = client_ip(request)
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return keyed_hash(address, "client-ip")
    if ip.version == 6:
        if ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        else:
            ip = ipaddress.ip_network(f"{ip}/64", strict=False).network_address
    return keyed_hash(str(ip), "client-ip")


_writers = threading.Lock()
_lock_files: dict[str, int] = {}


@contextmanager
def serialized_writes():
    """On SQLite, queue writers on a lock file instead of in SQLite's own busy wait.

    SQLite lets one writer in at a time and makes the others poll, sleeping up to 100 ms between
    tries; under load that idles the database while requests wait. A blocking file lock wakes
    the next writer the moment the last one commits. On other databases this does nothing.
    """
    path = db.engine.url.database if db.engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:":
        yield
        return
    with _writers:
        if path not in _lock_files:
            _lock_files[path] = os.open(f"{path}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(_lock_files[path], fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(_lock_files[path], fcntl.LOCK_UN)


def _lock(key: str) -> None:
    """On PostgreSQL, serialise actions on one key until commit; SQLite's write lock does that."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
