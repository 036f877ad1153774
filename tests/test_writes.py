"""Shared write transactions: a batch of submits committed at once, or one by one when needed."""

from datetime import timedelta
from pathlib import Path

from conftest import run_concurrently
from flask import current_app
from sqlalchemy import func, select

from mailer import writes
from mailer.extensions import db
from mailer.invites.email import (
    LIMITED,
    REPEAT,
    SENT,
    invitation_rows,
    opt_out,
    queue_invitations,
    queue_together,
    send_invitations,
)
from mailer.limits import count, hit_together
from mailer.models import OptOut, OutboxMail, RateEvent, utcnow
from mailer.security import keyed_hash

HOUR = timedelta(hours=1)


def submit(number: int, client: str = "client", nonce: str | None = None):
    """One submit's arguments, as the send view makes them: a preview for one colleague."""
    pending = {"voornaam": "Jan", "achternaam": "Jansen", "nonce": nonce or f"n{number}",
               "to": [f"collega{number}@bedrijf{number}.example"]}
    return pending, invitation_rows(pending), client


def send_batch(submits) -> list:
    """Commit `submits` as one batch of the shared write transaction; each one's outcome."""
    batch = [writes._Write(lambda cursor, s=s: queue_invitations(*s, cursor),
                           lambda outcome: outcome == SENT, (queue_together, s))
             for s in submits]
    writes._commit(batch)
    return [entry.outcome() for entry in batch]


def queued() -> list[str]:
    """The recipients in the outbox, oldest first."""
    db.session.rollback()
    return list(db.session.scalars(select(OutboxMail.recipient).order_by(OutboxMail.id)))


def test_hit_together_judges_each_action_as_if_one_by_one(app):
    with app.app_context():
        cursor = db.session.connection().connection.cursor()
        now = utcnow()
        assert hit_together([("k", [(3, HOUR)])] * 3, cursor, now)
        assert hit_together([("k", [(4, HOUR)])], cursor, now)  # the fourth of four: fits
        assert not hit_together([("k", [(4, HOUR)])], cursor, now)  # the fifth does not
        db.session.rollback()
        # Within a batch, the first of a key sees one event, the second two.
        assert hit_together([("a", [(1, HOUR)]), ("a", [(5, HOUR)])], cursor, now)
        db.session.rollback()
        assert not hit_together([("a", [(5, HOUR)]), ("a", [(1, HOUR)])], cursor, now)


def test_hit_together_leaves_a_clock_set_back_to_hit_all(app):
    with app.app_context():
        db.session.add(RateEvent(key="k", at=utcnow() + HOUR, seq=1))
        db.session.commit()
        cursor = db.session.connection().connection.cursor()
        assert not hit_together([("k", [(5, HOUR)])], cursor, utcnow())
        assert db.session.scalar(select(func.count()).select_from(RateEvent)) == 1


def test_a_batch_of_plain_submits_is_queued_at_once(app):
    with app.test_request_context():
        outcomes = send_batch([submit(n, client=f"c{n}") for n in range(5)])
        assert outcomes == [SENT] * 5
        assert queued() == [f"collega{n}@bedrijf{n}.example" for n in range(5)]
        assert count("invite-total", timedelta(days=1)) == 5


def test_a_batch_with_a_refusal_runs_one_by_one_and_only_that_one_is_refused(app):
    with app.test_request_context():
        current_app.config["INVITE_LIMIT_IP_HOUR"] = 2
        outcomes = send_batch([submit(n) for n in range(3)])  # one client, three submits
        assert outcomes == [SENT, SENT, LIMITED]
        assert queued() == ["collega0@bedrijf0.example", "collega1@bedrijf1.example"]
        # The refused submit left no trace: nothing counted for its colleague or in total.
        assert count("invite-total", timedelta(days=1)) == 2
        assert count("invite-to:" + keyed_hash("collega2@bedrijf2.example"),
                     timedelta(days=30)) == 0


def test_a_batch_with_a_repeat_and_an_opt_out_sends_only_the_rest(app):
    with app.test_request_context():
        opt_out(keyed_hash("collega1@bedrijf1.example"))
        db.session.commit()
        outcomes = send_batch([submit(0, nonce="same"), submit(1), submit(2, nonce="same")])
        assert outcomes == [SENT, SENT, REPEAT]  # the opted-out colleague: quietly skipped
        assert queued() == ["collega0@bedrijf0.example"]


def test_a_batch_runs_together_when_every_write_has_the_same_function(app):
    calls = []

    def together(numbers, cursor):
        calls.append(numbers)
        return [f"samen {number}" for number in numbers]

    def alone(cursor):
        raise AssertionError("niet samen uitgevoerd")

    with app.app_context():
        batch = [writes._Write(alone, lambda result: True, (together, n)) for n in range(3)]
        writes._commit(batch)
        assert [entry.outcome() for entry in batch] == ["samen 0", "samen 1", "samen 2"]
        assert calls == [[0, 1, 2]]


def test_a_batch_runs_one_by_one_when_the_function_declines_and_keeps_nothing_of_it(app):
    def declines(numbers, cursor):
        cursor.execute("INSERT INTO opt_out (address_hash, created_at) VALUES ('weg', '2026')")
        return None

    def alone(cursor):
        return "los"

    with app.app_context():
        batch = [writes._Write(alone, lambda result: True, (declines, n)) for n in range(2)]
        writes._commit(batch)
        assert [entry.outcome() for entry in batch] == ["los", "los"]
        assert db.session.scalar(select(func.count()).select_from(OptOut)) == 0


def test_a_failing_write_fails_alone(app):
    with app.test_request_context():
        def broken(cursor):
            raise RuntimeError("kapot")

        good = submit(0)
        batch = [writes._Write(broken, lambda outcome: True, None),
                 writes._Write(lambda cursor: queue_invitations(*good, cursor),
                               lambda outcome: outcome == SENT, (queue_together, good))]
        writes._commit(batch)
        assert isinstance(batch[0].error, RuntimeError)
        assert batch[1].outcome() == SENT
        assert queued() == ["collega0@bedrijf0.example"]


def test_concurrent_writes_each_return_after_their_own_commit(app):
    """Many threads at once: each gets its own outcome, and every SENT is in the outbox."""
    outcomes = {}

    def send(number):
        with app.test_request_context():
            outcomes[number] = send_invitations(*submit(number, client=f"c{number}"))

    run_concurrently(send, 24)
    assert outcomes == dict.fromkeys(range(24), SENT)
    with app.app_context():
        assert sorted(queued()) == sorted(f"collega{n}@bedrijf{n}.example" for n in range(24))
        assert db.session.scalar(select(func.count()).select_from(RateEvent)) == 24 * 5


def test_the_log_is_copied_into_the_database_file_outside_the_commits(app, monkeypatch):
    monkeypatch.setattr(writes, "CHECKPOINT_EVERY", 301)
    monkeypatch.setattr(writes, "_since_checkpoint", 0)
    with app.test_request_context():
        path = Path(db.engine.url.database)
        size = path.stat().st_size
        for n in range(300):
            assert send_invitations(*submit(n, client=f"c{n}")) == SENT
        # More log than SQLite's own checkpoint allows (1,000 pages), and none of it copied yet.
        assert Path(f"{path}-wal").stat().st_size > 1000 * 4096
        assert path.stat().st_size == size
        assert send_invitations(*submit(300, client="c300")) == SENT
        assert path.stat().st_size > size
        assert len(queued()) == 301


def test_a_failing_checkpoint_leaves_the_committed_write_answered(app, monkeypatch, caplog):
    monkeypatch.setattr(writes, "CHECKPOINT_EVERY", 1)
    monkeypatch.setattr(writes, "CHECKPOINT", "SELECT * FROM no_such_table")
    with app.test_request_context():
        assert send_invitations(*submit(1)) == SENT
        assert queued() == ["collega1@bedrijf1.example"]
    assert "WAL-checkpoint mislukt" in caplog.text
