"""Sliding-window rate limits kept in the database, so every web process and worker shares them.

Each allowed action is one `RateEvent` row. Keys are keyed hashes (`client_ip_key`,
`keyed_hash`), never a raw IP or address.

Counting does not look at every event in a window: each event carries `seq`, its key's running
number (1, 2, 3, ...), and its time never goes back within a key. The events inside a window
are then numbered from the oldest one in it to the newest, so their count is
`newest.seq - oldest_in_window.seq + 1`: two index lookups, however many events there are.
(A plain `count(*)` read all of today's events of the global daily key on every submit.)
"""

import ipaddress
from datetime import timedelta
from functools import lru_cache

from flask import current_app
from sqlalchemy import DateTime, bindparam, delete, text

from . import sql
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


def hit_all(actions: list[tuple[str, list[Window]]], cursor=None) -> list[bool]:
    """Count several actions in two statements; each is allowed (and counted) or refused (not).

    A key named twice counts twice, and is allowed only if all its actions fit. Plain SQL on
    the session's cursor (see `sql`): this runs on every submit, inside the write lock, and a
    caller that has the cursor already passes it (asking the session for it costs more).
    """
    now = utcnow()
    keys = sorted({key for key, _ in actions})
    cursor = cursor or sql.cursor()
    if sql.dialect_name(cursor) == "postgresql":
        for key in keys:
            # Serialise actions on one key until commit; on SQLite the insert's write lock does.
            sql.execute(cursor, ADVISORY_LOCK, {"key": key})
    # Insert first, then count: on SQLite the insert takes the write lock until the caller's
    # commit, so two processes can never both see room for the last allowed action.
    sql.execute_many(cursor, INSERT_EVENT, [{"key": key, "at": now} for key, _ in actions])
    pairs = sorted({(key, period) for key, windows in actions for _, period in windows})
    newest, counts = _counts(cursor, keys, pairs, now)
    allowed = [all(counts[key, period] <= limit for limit, period in windows)
               for key, windows in actions]
    for key in {key for (key, _), ok in zip(actions, allowed, strict=True) if not ok}:
        # This call's events of a refused key are the newest ones of that key.
        added = sum(1 for name, _ in actions if name == key)
        sql.execute(cursor, DELETE_NEWEST, {"key": key, "after": newest[key] - added})
    return allowed


def hit_together(actions: list[tuple[str, list[Window]]], cursor, now) -> bool:
    """Count a batch of actions in two statements: True if every one of them fits (and counted).

    For the shared write transaction on SQLite (`writes`), which holds the write lock from its
    start: one select reads each key's newest number and the first number in each window, then
    each action is numbered and judged as if the batch had run one by one, and one insert
    stores them all. (A statement per event would give up Python's interpreter lock per event.)
    False counts nothing: the caller then runs the batch one by one, with `hit_all`.
    """
    keys = sorted({key for key, _ in actions})
    pairs = sorted({(key, period) for key, windows in actions for _, period in windows})
    query = _count_query(len(keys), len(pairs), later_than_now=True)
    row = sql.execute(cursor, query, _count_params(keys, pairs, now)).fetchone()
    if row[-1]:
        return False  # an event after `now`: the clock was set back, which `hit_all` handles
    newest = {key: seq or 0 for key, seq in zip(keys, row, strict=False)}
    first = dict(zip(pairs, row[len(keys):-1], strict=True))
    numbered = dict.fromkeys(keys, 0)
    events = []
    for key, windows in actions:
        numbered[key] += 1
        seq = newest[key] + numbered[key]
        for limit, period in windows:
            # Events in the window: from its oldest stored one, or else this batch's first.
            if seq - (first[key, period] or newest[key] + 1) + 1 > limit:
                return False
        events.append({"key": key, "at": now, "seq": seq})
    sql.insert_rows(cursor, RateEvent.__table__, events)
    return True


def take_back(keys: list[str], cursor=None) -> None:
    """Uncount the newest event of each key named (a key named twice loses two).

    For actions `hit_all` allowed that turned out not to happen, in the same transaction.
    """
    cursor = cursor or sql.cursor()
    for key in sorted(set(keys)):
        sql.execute(cursor, DELETE_LAST, {"key": key, "n": keys.count(key)})


def count(key: str, period: timedelta, now=None) -> int:
    """How many actions `key` has inside the window ending now, without counting one."""
    _, counts = _counts(sql.cursor(), [key], [(key, period)], now or utcnow())
    return counts[key, period]


ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(hashtext(:key))")
# The next number of the key, and a time no earlier than its newest event's (a clock that was
# set back must not put an event before older ones). The subquery is one index lookup.
INSERT_EVENT = text(
    "INSERT INTO rate_event (key, at, seq) "
    "SELECT :key, CASE WHEN max(at) > :at THEN max(at) ELSE :at END, coalesce(max(seq), 0) + 1 "
    "FROM (SELECT at, seq FROM rate_event WHERE key = :key ORDER BY at DESC, seq DESC LIMIT 1) "
    "AS newest"
).bindparams(bindparam("at", type_=DateTime()))
DELETE_NEWEST = text("DELETE FROM rate_event WHERE key = :key AND seq > :after")
DELETE_LAST = text(
    "DELETE FROM rate_event WHERE key = :key AND seq > (SELECT seq FROM rate_event "
    "WHERE key = :key ORDER BY at DESC, seq DESC LIMIT 1) - :n"
)
NEWEST_SEQ = "(SELECT seq FROM rate_event WHERE key = :{key} ORDER BY at DESC, seq DESC LIMIT 1)"
FIRST_SEQ_SINCE = ("(SELECT seq FROM rate_event WHERE key = :{key} AND at > :{since} "
                   "ORDER BY at, seq LIMIT 1)")


def _counts(cursor, keys: list[str], pairs: list[tuple[str, timedelta]], now) -> tuple:
    """Each key's newest `seq`, and each (key, period)'s number of events in its window.

    One statement, two index lookups per window whatever the number of events. Its text
    depends only on how many keys and windows there are, so few texts are ever built.
    """
    query = _count_query(len(keys), len(pairs))
    row = sql.execute(cursor, query, _count_params(keys, pairs, now)).fetchone()
    newest = dict(zip(keys, row[:len(keys)], strict=True))
    counts = {}
    for (key, period), first in zip(pairs, row[len(keys):], strict=True):
        counts[key, period] = 0 if first is None else newest[key] - first + 1
    return newest, counts


def _count_params(keys: list[str], pairs: list[tuple[str, timedelta]], now) -> dict:
    """The values for `_count_query`: each key, and each window's key and start."""
    params = {f"k{n}": key for n, key in enumerate(keys)}
    for n, (key, period) in enumerate(pairs):
        params[f"p{n}"], params[f"s{n}"] = key, now - period
    params["now"] = now
    return params


@lru_cache(maxsize=512)
def _count_query(key_count: int, pair_count: int, later_than_now: bool = False):
    """The SELECT for `_counts`: newest seq per key, then first seq per window.

    `later_than_now` adds a last column for `hit_together`: how many events of these keys
    lie after now (a clock set back).
    """
    columns = [NEWEST_SEQ.format(key=f"k{n}") for n in range(key_count)]
    columns += [FIRST_SEQ_SINCE.format(key=f"p{n}", since=f"s{n}") for n in range(pair_count)]
    binds = [bindparam(f"s{n}", type_=DateTime()) for n in range(pair_count)]
    if later_than_now:
        keys = ", ".join(f":k{n}" for n in range(key_count))
        columns.append(f"(SELECT count(*) FROM rate_event WHERE key IN ({keys}) AND at > :now)")
        binds.append(bindparam("now", type_=DateTime()))
    return text("SELECT " + ", ".join(columns)).bindparams(*binds)


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
