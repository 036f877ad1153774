"""Write transactions shared by the requests of one process: one commit for many submits.

SQLite lets one writer in at a time, and beginning and committing a transaction costs more than
the few inserts of a submit. So a submit hands its write to `write`, as a function of a DBAPI
cursor. The first request thread to arrive runs every write that is waiting in one transaction
and commits once (group commit). Every caller returns only after the commit that holds its
write: an answer still means "stored", and a failed commit fails the writes it held, never one
that had already been answered.

While a batch holds the write lock, each statement gives up Python's interpreter lock and has
to wait for it again behind the process's other request threads. So a write can come with a
`together` function that does a whole batch of such writes in a few statements; the writes
run one by one, each in its own savepoint, only when that function declines.

Writers of other processes queue on a lock file (`serialized_writes`) rather than in SQLite's
busy wait. SQLite's own checkpoint (copying the write-ahead log into the database file every
1,000 pages) runs inside a commit, while every other writer waits; shared writes turn it off
on their connections and checkpoint once the lock is free (`_checkpoint_now_and_then`).

On PostgreSQL each write commits on its own: there is no single writer to share, and a batch
taking each job's advisory locks in turn could deadlock with another process's.
"""

import fcntl
import logging
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from flask import current_app
from sqlalchemy.exc import DBAPIError

from .extensions import db

log = logging.getLogger(__name__)


class _Write:
    """One caller's write, and what came of it."""

    __slots__ = ("job", "keep", "together", "done", "result", "error", "wake")

    def __init__(self, job, keep, together):
        self.job, self.keep, self.together = job, keep, together
        self.done, self.result, self.error = False, None, None
        # Held until the caller may go on: its write is committed, or it is to lead the next batch.
        self.wake = threading.Lock()
        self.wake.acquire()

    def outcome(self):
        """The job's result, or its error raised in the caller's thread."""
        if self.error is not None:
            raise self.error
        return self.result


class _Queue:
    """The writes of one app waiting for a commit, and whether a thread is running a batch."""

    def __init__(self):
        self.lock = threading.Lock()
        self.waiting: list[_Write] = []
        self.leading = False


_queues: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_queues_lock = threading.Lock()


def write(job: Callable[[Any], Any], keep: Callable[[Any], bool] = lambda result: True,
          together: tuple[Callable, Any] | None = None):
    """Run `job(cursor)` in a shared transaction; return its result once that is committed.

    `keep(result)` False undoes the job's changes (its savepoint is rolled back) while the
    others' stay. The job runs in whichever request thread leads the batch, with the same app:
    it must use only the cursor, its own arguments and the app's configuration.

    `together`, as (function, argument): on SQLite, when every write in a batch has the same
    function, `function([argument, ...], cursor)` runs first, in place of the jobs; it returns
    every job's result, all to be kept, or None to have the jobs run one by one instead.
    """
    entry = _Write(job, keep, together)
    if db.engine.dialect.name != "sqlite":
        _commit([entry])
        return entry.outcome()
    app = current_app._get_current_object()
    queue = _queues.get(app)
    if queue is None:
        with _queues_lock:
            queue = _queues.setdefault(app, _Queue())
    with queue.lock:
        queue.waiting.append(entry)
        lead = not queue.leading
        queue.leading = True
    if not lead:
        # Sleep until woken, once: each caller is woken only when there is something for it.
        entry.wake.acquire()
        if entry.done:
            return entry.outcome()
    with queue.lock:
        batch, queue.waiting = queue.waiting, []
    try:
        _commit(batch)
    finally:
        with queue.lock:
            following = queue.waiting[0] if queue.waiting else None
            queue.leading = following is not None
        if following is not None:
            following.wake.release()  # the first to arrive meanwhile leads the next batch
        for other in batch:
            if other is not entry:
                other.wake.release()
    _checkpoint_now_and_then(len(batch))
    return entry.outcome()


def _commit(batch: list[_Write]) -> None:
    """Run the batch's writes, all at once or each in a savepoint, and commit them together."""
    engine = db.engine
    with serialized_writes():
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            sqlite = engine.dialect.name == "sqlite"
            function = _shared_function(batch) if sqlite else None
            _begin(connection, cursor, sqlite)
            if function is None or not _run_together(cursor, batch, function):
                if function is not None:  # it declined: start again, one by one
                    connection.rollback()
                    _begin(connection, cursor, sqlite)
                for entry in batch:
                    _run(cursor, entry)
            connection.commit()
        except Exception as error:
            connection.rollback()
            for entry in batch:
                if entry.error is None:
                    entry.error, entry.result = error, None
        finally:
            connection.close()
            for entry in batch:
                entry.done = True


# Writes of a process between two of its checkpoints (counted as writes, not commits: the log
# grows with each). With four web processes that is one every 60 or so submits: a few hundred
# pages of log, about what SQLite's own checkpoint would copy.
CHECKPOINT_EVERY = 250
CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"
_since_checkpoint = 0


def _checkpoint_now_and_then(writes: int) -> None:
    """Copy the write-ahead log into the database file after every CHECKPOINT_EVERY writes.

    Called outside the write lock, so other writers go on meanwhile. PASSIVE waits for no
    one: pages a reader still needs stay in the log until the next time. The writes are
    committed already, so a failing checkpoint is logged and left to the next one.
    """
    global _since_checkpoint
    _since_checkpoint += writes
    if _since_checkpoint < CHECKPOINT_EVERY:
        return
    _since_checkpoint = 0
    try:
        connection = db.engine.raw_connection()
        try:
            connection.cursor().execute(CHECKPOINT)
        finally:
            connection.close()
    except (sqlite3.Error, DBAPIError) as error:
        log.warning("WAL-checkpoint mislukt, volgende keer opnieuw: %s", error)


def _begin(connection, cursor, sqlite: bool) -> None:
    """Begin the batch's transaction; on SQLite take the write lock now, not halfway a job."""
    if sqlite:
        if not connection.info.get("checkpoint_by_hand"):
            # Once per connection: `_checkpoint_now_and_then` does it, outside the lock.
            cursor.execute("PRAGMA wal_autocheckpoint=0")
            connection.info["checkpoint_by_hand"] = True
        cursor.execute("BEGIN IMMEDIATE")


def _shared_function(batch: list[_Write]) -> Callable | None:
    """The `together` function every write of the batch has, or None."""
    function = batch[0].together[0] if batch[0].together else None
    if function is None or any(not entry.together or entry.together[0] is not function
                               for entry in batch):
        return None
    return function


def _run_together(cursor, batch: list[_Write], function: Callable) -> bool:
    """Run the batch through its shared `together` function; False if that declines."""
    try:
        results = function([entry.together[1] for entry in batch], cursor)
    except Exception:  # one by one, each in its savepoint, tells whose write it was
        return False
    if results is None:
        return False
    for entry, result in zip(batch, results, strict=True):
        entry.result = result
    return True


def _run(cursor, entry: _Write) -> None:
    """One job inside a savepoint: kept, or rolled back on `keep` saying no or on an error."""
    cursor.execute("SAVEPOINT write")
    try:
        entry.result = entry.job(cursor)
        kept = entry.keep(entry.result)
    except Exception as error:  # this caller's failure only; the batch goes on
        entry.error, kept = error, False
    if not kept:
        cursor.execute("ROLLBACK TO SAVEPOINT write")
    cursor.execute("RELEASE SAVEPOINT write")


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
