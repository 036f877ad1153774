"""Write transactions shared by the requests of one process: one commit for many submits.

SQLite lets one writer in at a time, and beginning and committing a transaction costs more than
the few inserts of a submit. So a submit hands its write to `write`, as a function of a DBAPI
cursor. The first request thread to arrive runs every write that is waiting, each inside its own
savepoint, in one transaction, and commits once (group commit). Every caller returns only after
the commit that holds its write: an answer still means "stored", and a failed commit fails the
writes it held, never one that had already been answered.

Writers of other processes queue on a lock file (`serialized_writes`) rather than in SQLite's
busy wait. On PostgreSQL the same code runs; the lock file is skipped there.
"""

import fcntl
import os
import threading
import weakref
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from flask import current_app

from .extensions import db


class _Write:
    """One caller's write, and what came of it."""

    __slots__ = ("job", "keep", "done", "result", "error")

    def __init__(self, job, keep):
        self.job, self.keep = job, keep
        self.done, self.result, self.error = False, None, None

    def outcome(self):
        """The job's result, or its error raised in the caller's thread."""
        if self.error is not None:
            raise self.error
        return self.result


class _Queue:
    """The writes of one app waiting for a commit, and whether a thread is running a batch."""

    def __init__(self):
        self.lock = threading.Condition()
        self.waiting: list[_Write] = []
        self.leading = False


_queues: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_queues_lock = threading.Lock()


def write(job: Callable[[Any], Any], keep: Callable[[Any], bool] = lambda result: True):
    """Run `job(cursor)` in a shared transaction; return its result once that is committed.

    `keep(result)` False undoes the job's changes (its savepoint is rolled back) while the
    others' stay. The job runs in whichever request thread leads the batch, with the same app:
    it must use only the cursor, its own arguments and the app's configuration.
    """
    app = current_app._get_current_object()
    queue = _queues.get(app)
    if queue is None:
        with _queues_lock:
            queue = _queues.setdefault(app, _Queue())
    entry = _Write(job, keep)
    with queue.lock:
        queue.waiting.append(entry)
        while queue.leading and not entry.done:
            queue.lock.wait()
        if entry.done:
            return entry.outcome()
        queue.leading = True
        batch, queue.waiting = queue.waiting, []
    try:
        _commit(batch)
    finally:
        with queue.lock:
            queue.leading = False
            queue.lock.notify_all()
    return entry.outcome()


def _commit(batch: list[_Write]) -> None:
    """Run the batch's jobs, each in a savepoint, and commit them together."""
    engine = db.engine
    with serialized_writes():
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            if engine.dialect.name == "sqlite":
                # Take the write lock now rather than at the first insert, halfway through a job.
                cursor.execute("BEGIN IMMEDIATE")
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
