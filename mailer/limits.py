"""Rate limits kept in the database, so every web process and worker shares them.

Each counted action is one `RateEvent` row whose key is a keyed hash, never a raw address.
`take` is the one way in: it counts a set of actions only if every one of them fits its windows,
so a refusal counts nothing. Two processes can never both take the last allowed slot: on SQLite
the transaction holds the write lock from its start (`begin_write`); on PostgreSQL it holds a
lock per key, taken in sorted order so that two transactions never wait for each other.
"""

import ipaddress
from collections import Counter
from datetime import timedelta

from flask import current_app
from sqlalchemy import DateTime, bindparam, delete, insert, text

from .extensions import begin_write, db
from .models import RateEvent, utcnow
from .security import keyed_hash

DEFAULTS = {
    "LIMIT_RETRY_AFTER": 3600,  # seconds a refused sender is asked to wait (Retry-After)
    "RATE_LIMIT_RETENTION_DAYS": 30,  # the longest window of any limit
}

Window = tuple[int, timedelta]  # (limit, period): at most `limit` actions per `period`
# A key and the windows it must fit in; a key named twice counts twice.
Action = tuple[str, list[Window]]


def take(actions: list[Action]) -> set[str]:
    """Count every action if each fits its windows; else count none, and return the refused keys."""
    now = utcnow()
    if not db.session().in_transaction():
        begin(key for key, _ in actions)
    refused = would_refuse(actions, now)
    if not refused and actions:
        db.session.execute(insert(RateEvent.__table__),
                           [{"key": key, "at": now} for key, _ in actions])
    return refused


def would_refuse(actions: list[Action], now=None) -> set[str]:
    """The keys of `actions` that would not fit their windows now; counts nothing."""
    adding = Counter(key for key, _ in actions)
    limits = {(key, period): limit for key, windows in actions for limit, period in windows}
    counted = counts(list(limits), now)
    return {key for (key, period), limit in limits.items()
            if counted[key, period] + adding[key] > limit}


def begin(keys) -> None:
    """Make this transaction the only one counting against `keys` until it ends.

    `take` does this itself when it runs first in its transaction; a transaction that reads
    before it takes calls this before its first query, with every key it may count against.
    """
    if not db.session().in_transaction():
        begin_write()
    if db.session.get_bind().dialect.name == "postgresql":
        # One lock per key, taken in sorted order (PostgreSQL calls the function after ORDER BY).
        db.session.execute(LOCK_KEYS, {"keys": sorted(set(keys))})


LOCK_KEYS = text("SELECT pg_advisory_xact_lock(hashtext(k)) "
                 "FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k")


def counts(pairs: list[tuple[str, timedelta]], now=None) -> dict:
    """How many actions each (key, period) has in the window ending now, in one query."""
    if not pairs:
        return {}
    now = now or utcnow()
    # Plain SQL text: the same query built as nested SQLAlchemy expressions cost more to make
    # on every submit than the database took to answer it.
    keys = {key: f"k{n}" for n, key in enumerate(dict.fromkeys(key for key, _ in pairs))}
    starts = {period: f"s{n}" for n, period in enumerate(dict.fromkeys(p for _, p in pairs))}
    windows = ", ".join(f"(SELECT count(*) FROM rate_event WHERE key = :{keys[key]} "
                        f"AND at > :{starts[period]})" for key, period in pairs)
    query = text(f"SELECT {windows}").bindparams(
        *(bindparam(name, now - period, type_=DateTime()) for period, name in starts.items()))
    values = {name: key for key, name in keys.items()}
    return dict(zip(pairs, db.session.execute(query, values).one(), strict=True))


def count(key: str, period: timedelta) -> int:
    """How many actions `key` has inside the window ending now."""
    return counts([(key, period)])[key, period]


def windows(pairs) -> list[Window]:
    """[[count, seconds], ...] from the configuration as windows."""
    return [(int(limit), timedelta(seconds=int(seconds))) for limit, seconds in pairs]


def prune() -> int:
    """Delete events older than the longest window (30 days); returns how many went."""
    days = current_app.config["RATE_LIMIT_RETENTION_DAYS"]
    since = utcnow() - timedelta(days=days)
    return db.session.execute(delete(RateEvent).where(RateEvent.at <= since)).rowcount


def client_key(request) -> str:
    """A keyed hash of the client's address, with IPv6 reduced to its /64 (one subscriber).

    Behind proxies `request.remote_addr` is already the client's, set by werkzeug's ProxyFix.
    """
    address = request.remote_addr or ""
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
