"""The database-backed limiter: sliding windows, shared by processes, client IPs hashed."""

from datetime import timedelta

import pytest
from conftest import run_concurrently
from flask import request

from mailer import create_app
from mailer.extensions import db
from mailer.limits import client_key, count, prune, take
from mailer.models import RateEvent, utcnow

HOUR = timedelta(hours=1)


def hit(key, limit, period):
    """Count one action of `key` in its own transaction: True if it was allowed."""
    allowed = not take([(key, [(limit, period)])])
    db.session.commit()
    return allowed


def add_events(key, times):
    """Store past events of `key`."""
    db.session.add_all([RateEvent(key=key, at=at) for at in times])
    db.session.commit()


def test_allows_up_to_the_limit_and_does_not_count_refusals(app):
    with app.app_context():
        assert [hit("k", 3, HOUR) for _ in range(5)] == [True, True, True, False, False]
        assert count("k", HOUR) == 3
        assert hit("other", 3, HOUR)


def test_window_slides(app):
    with app.app_context():
        add_events("k", [utcnow() - HOUR - timedelta(seconds=1),
                         *(utcnow() - timedelta(minutes=m) for m in (1, 2))])
        assert hit("k", 3, HOUR)
        assert not hit("k", 3, HOUR)


def test_several_windows_on_one_key(app):
    with app.app_context():
        add_events("ip", [utcnow() - timedelta(hours=2)] * 18)
        windows = [(5, HOUR), (20, timedelta(days=1))]
        results = []
        for _ in range(3):
            results.append(not take([("ip", windows)]))
            db.session.commit()
        assert results == [True, True, False]


def test_state_is_shared_by_every_app_on_the_database(app):
    other = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                        "SECRET_KEY": "test-secret", "HASH_KEY": "test-hash-key"})
    with app.app_context():
        assert hit("shared", 1, HOUR)
    with other.app_context():
        assert not hit("shared", 1, HOUR)


def test_concurrent_hits_never_pass_the_limit(app):
    results = []

    def attempt(number):
        with app.app_context():
            results.append(hit("race", 5, HOUR))

    run_concurrently(attempt, 12)
    assert results.count(True) == 5


def test_a_key_named_twice_counts_twice_and_a_refusal_counts_nothing(app):
    with app.app_context():
        assert take([("total", [(3, HOUR)])] * 2) == set()
        assert take([("total", [(3, HOUR)])] * 2) == {"total"}
        assert take([("total", [(3, HOUR)]), ("other", [(1, HOUR)])]) == set()
        db.session.commit()
        assert count("total", HOUR) == 3 and count("other", HOUR) == 1


def test_one_refused_action_counts_none_of_the_others(app):
    with app.app_context():
        assert hit("full", 1, HOUR)
        assert take([("free", [(5, HOUR)]), ("full", [(1, HOUR)])]) == {"full"}
        db.session.commit()
        assert count("free", HOUR) == 0


def test_many_events_count_exactly_in_each_window(app):
    with app.app_context():
        now = utcnow()
        add_events("busy", [now - timedelta(minutes=m) for m in range(0, 600, 2)])  # 300 in 10 h
        assert count("busy", HOUR) == 30
        assert count("busy", timedelta(hours=5)) == 150
        assert count("busy", timedelta(days=1)) == 300


def test_a_clock_set_back_still_counts_the_newer_events(app):
    with app.app_context():
        add_events("k", [utcnow() + timedelta(minutes=5)] * 2)  # written before the clock went back
        assert hit("k", 3, HOUR)
        assert not hit("k", 3, HOUR)
        assert count("k", HOUR) == 3


def test_prune_keeps_only_the_longest_window(app):
    with app.app_context():
        add_events("k", [utcnow() - timedelta(days=31), utcnow() - timedelta(days=29)])
        assert prune() == 1
        db.session.commit()
        assert count("k", timedelta(days=60)) == 1


def key_for(make_app, remote, forwarded=None, proxies=0):
    """The limiter key for a request from `remote` with an optional X-Forwarded-For header."""
    app = make_app(TRUSTED_PROXIES=proxies)

    @app.get("/test-client-key")
    def show_key():
        return client_key(request)

    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return app.test_client().get("/test-client-key", headers=headers,
                                 environ_base={"REMOTE_ADDR": remote}).text


def test_ipv4_addresses_are_hashed_and_distinct(make_app):
    key = key_for(make_app, "192.0.2.7")
    assert "192.0.2.7" not in key and len(key) == 64
    assert key == key_for(make_app, "192.0.2.7")
    assert key != key_for(make_app, "192.0.2.8")
    assert key == key_for(make_app, "::ffff:192.0.2.7")


@pytest.mark.parametrize("same", ["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff",
                                  "2001:db8:1:2:abcd::99"])
def test_ipv6_counts_per_64(make_app, same):
    assert key_for(make_app, "2001:db8:1:2::5") == key_for(make_app, same)
    assert key_for(make_app, "2001:db8:1:3::5") != key_for(make_app, same)


def test_forwarded_for_is_ignored_without_trusted_proxies(make_app):
    assert key_for(make_app, "10.0.0.1", "198.51.100.9") == key_for(make_app, "10.0.0.1")


@pytest.mark.parametrize("forwarded, proxies, client", [
    ("198.51.100.9", 1, "198.51.100.9"),
    ("203.0.113.66, 198.51.100.9", 1, "198.51.100.9"),  # the left entry is forged
    ("203.0.113.66, 198.51.100.9, 10.0.0.2", 2, "198.51.100.9"),
])
def test_forwarded_for_behind_trusted_proxies(make_app, forwarded, proxies, client):
    assert key_for(make_app, "10.0.0.1", forwarded, proxies) == key_for(make_app, client)


def test_odd_forwarded_values_do_not_fail(make_app):
    assert key_for(make_app, "10.0.0.1", "niet-een-ip", 1) != key_for(make_app, "10.0.0.1")
    assert key_for(make_app, "10.0.0.1", "198.51.100.9", 2) == key_for(make_app, "10.0.0.1")
