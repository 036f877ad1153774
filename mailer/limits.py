"""Sliding-window rate limits kept in the database, so every web process and worker shares them.

Each allowed action is one `RateEvent` row; a limit counts the rows of its key inside the window.
Keys are keyed hashes (`client_ip_key`, `keyed_hash`), never a raw IP or address.
"""

import ipaddress
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select, text

from .extensions import db
from .models import RateEvent, utcnow
from .security import keyed_hash

# Events older than the longest window of any limit are useless; 30 days is the per-recipient one.
RETENTION_DAYS = 30


def hit(key: str, limit: int, period: timedelta) -> bool:
    """Count one action for `key`: True if allowed (and counted), False if over the limit."""
    return hit_windows(key, [(limit, period)])


def hit_windows(key: str, windows: list[tuple[int, timedelta]]) -> bool:
    """Count one action for `key` against several windows (e.g. 5 an hour and 20 a day) at once."""
    now = utcnow()
    _lock(key)
    # Insert first, then count: on SQLite the insert takes the write lock until the caller's
    # commit, so two processes can never both see room for the last allowed action.
    event = RateEvent(key=key, at=now)
    db.session.add(event)
    db.session.flush()
    if all(count(key, period, now) <= limit for limit, period in windows):
        return True
    db.session.delete(event)
    db.session.flush()
    return False


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


def _lock(key: str) -> None:
    """On PostgreSQL, serialise actions on one key until commit; SQLite's write lock does that."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
