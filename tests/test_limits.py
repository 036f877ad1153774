"""The database-backed limiter: sliding windows, shared by processes, client IPs hashed."""

from datetime import timedelta

import pytest
from conftest import run_concurrently
from flask import request

from mailer import create_app
from mailer.extensions import db
from mailer.limits import client_ip_key, count, hit, hit_all, hit_windows, prune
from mailer.models import RateEvent, utcnow

HOUR = timedelta(hours=1)


def add_events(key, times):
    """Store past events of `key`, numbered in time order as the limiter numbers them."""
    db.session.add_all([RateEvent(key=key, at=at, seq=seq)
                        for seq, at in enumerate(sorted(times), start=1)])


def test_allows_up_to_the_limit_and_does_not_count_refusals(app):
    with app.app_context():
        assert [hit("k", 3, HOUR) for _ in range(5)] == [True, True, True, False, False]
        db.session.commit()
        assert count("k", HOUR) == 3
        assert hit("other", 3, HOUR)


def test_window_slides(app):
    with app.app_context():
        add_events("k", [utcnow() - HOUR - timedelta(seconds=1),
                         *(utcnow() - timedelta(minutes=m) for m in (1, 2))])
        db.session.commit()
        assert hit("k", 3, HOUR)
        assert not hit("k", 3, HOUR)


def test_several_windows_on_one_key(app):
    with app.app_context():
        old = utcnow() - timedelta(hours=2)
        add_events("ip", [old] * 18)
        db.session.commit()
        windows = [(5, HOUR), (20, timedelta(days=1))]
        assert [hit_windows("ip", windows) for _ in range(3)] == [True, True, False]


def test_state_is_shared_by_every_app_on_the_database(app):
    other = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                        "SECRET_KEY": "test-secret"})
    with app.app_context():
        assert hit("shared", 1, HOUR)
        db.session.commit()
    with other.app_context():
        assert not hit("shared", 1, HOUR)


def test_concurrent_hits_never_pass_the_limit(app):
    results = []

    def attempt(number):
        with app.app_context():
            results.append(hit("race", 5, HOUR))
            db.session.commit()

    run_concurrently(attempt, 12)
    assert results.count(True) == 5


def test_a_key_named_twice_counts_twice_and_a_refusal_leaves_earlier_events(app):
    with app.app_context():
        assert hit_all([("total", [(3, HOUR)])] * 2) == [True, True]
        assert hit_all([("total", [(3, HOUR)])] * 2) == [False, False]
        assert hit("total", 3, HOUR)
        db.session.commit()
        assert count("total", HOUR) == 3


def test_many_events_count_exactly_in_each_window(app):
    with app.app_context():
        now = utcnow()
        add_events("busy", [now - timedelta(minutes=m) for m in range(0, 600, 2)])  # 300 in 10 h
        db.session.commit()
        assert count("busy", HOUR) == 30
        assert count("busy", timedelta(hours=5)) == 150
        assert count("busy", timedelta(days=1)) == 300


def test_a_clock_set_back_counts_on_from_the_newest_event(app):
    with app.app_context():
        add_events("k", [utcnow() + timedelta(minutes=5)] * 2)  # written before the clock went back
        db.session.commit()
        assert hit("k", 3, HOUR)
        assert not hit("k", 3, HOUR)
        db.session.commit()
        assert count("k", HOUR) == 3


def test_prune_keeps_only_the_longest_window(app):
    with app.app_context():
        add_events("k", [utcnow() - timedelta(days=31), utcnow() - timedelta(days=29)])
        db.session.commit()
        assert prune() == 1
        assert count("k", timedelta(days=60)) == 1


def key_for(app, remote, forwarded=None, proxies=0):
    """The limiter key for a request from `remote` with an optional X-Forwarded-For header."""
    app.config["TRUSTED_PROXIES"] = proxies
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    with app.test_request_context(environ_base={"REMOTE_ADDR": remote}, headers=headers):
        return client_ip_key(request)


def test_ipv4_addresses_are_hashed_and_distinct(app):
    key = key_for(app, "192.0.2.7")
    assert "192.0.2.7" not in key and len(key) == 64
    assert key == key_for(app, "192.0.2.7")
    assert key != key_for(app, "192.0.2.8")
    assert key == key_for(app, "::ffff:192.0.2.7")


@pytest.mark.parametrize("same", ["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff",
                                  "2001:db8:1:2:abcd::99"])
def test_ipv6_counts_per_64(app, same):
    assert key_for(app, "2001:db8:1:2::5") == key_for(app, same)
    assert key_for(app, "2001:db8:1:3::5") != key_for(app, same)


def test_forwarded_for_is_ignored_without_trusted_proxies(app):
    assert key_for(app, "10.0.0.1", "198.51.100.9") == key_for(app, "10.0.0.1")


@pytest.mark.parametrize("forwarded, proxies, client", [
    ("198.51.100.9", 1, "198.51.100.9"),
    ("203.0.113.66, 198.51.100.9", 1, "198.51.100.9"),  # the left entry is forged
    ("203.0.113.66, 198.51.100.9, 10.0.0.2", 2, "198.51.100.9"),
])
def test_forwarded_for_behind_trusted_proxies(app, forwarded, proxies, client):
    assert key_for(app, "10.0.0.1", forwarded, proxies) == key_for(app, client)


def test_odd_forwarded_values_do_not_fail(app):
    assert key_for(app, "10.0.0.1", "niet-een-ip", 1) != key_for(app, "10.0.0.1")
    assert key_for(app, "10.0.0.1", "198.51.100.9", 2) == key_for(app, "10.0.0.1")
