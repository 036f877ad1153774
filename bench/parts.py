"""Benchmark (not a test): where a request's time goes, part by part, in one process.

No gunicorn and no load: each request runs through the app's WSGI callable, one after another, so
the parts can be told apart. It prints microseconds per request for
- the count API against the bare Flask endpoint of bench/api.py, with the count read through the
  session and the app's own request hooks each measured alone;
- the limit count of one Versturen (seven windows) with 0, 1,000 and 12,000 events in the day's
  total (1,000 is the real daily cap; a run of bench/invites.py leaves about 12,000);
- Versturen of Tip een collega against the Flask-SQLAlchemy form POST of bench/invites.py.

Usage: .venv/bin/python bench/parts.py [--requests 2000]
"""

import argparse
import io
import sqlite3
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import api  # noqa: E402  (bench/ is on the path when run as a script)
import invites  # noqa: E402


def per_call(function, count: int) -> float:
    """Microseconds per call of `function`, after a short warm-up."""
    for _ in range(min(200, count)):
        function()
    start = time.perf_counter()
    for _ in range(count):
        function()
    return (time.perf_counter() - start) / count * 1e6


def wsgi_call(app, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    """Run one request through `app`; its status line."""
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
               "HTTP_HOST": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
               "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
               "CONTENT_TYPE": "application/x-www-form-urlencoded", **(headers or {})}
    status = []
    answer = app(environ, lambda line, _headers, *_: status.append(line))
    b"".join(answer)
    getattr(answer, "close", lambda: None)()
    return status[0]


def count_api(tmp: Path, count: int) -> None:
    """The count API, and its read and hooks alone."""
    from mailer import create_app
    from mailer.adoptions.registry import COUNT_QUERY
    from mailer.extensions import db

    uri = api.migrated_database(tmp / "api.sqlite")
    api.insert_adopters(tmp / "api.sqlite", 1000)
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "bench", "HASH_KEY": "bench",
                      "SITE_DIR": str(tmp)})
    bare = api.bare_app()
    ours_us = per_call(lambda: wsgi_call(app, "GET", api.PATH), count)
    bare_us = per_call(lambda: wsgi_call(bare, "GET", api.PATH), count)
    with app.app_context():
        def read():
            db.session.execute(COUNT_QUERY).one()
            db.session.remove()
        read_us = per_call(read, count)
        sql = str(COUNT_QUERY.compile(db.engine))
    connection = sqlite3.connect(tmp / "api.sqlite")
    values = ("approved", "approved", "adopters_before_registry", "adopters_before_registry")
    query_us = per_call(lambda: connection.execute(sql, values).fetchone(), count)
    connection.close()
    hooks = (app.before_request_funcs[None], app.after_request_funcs[None])
    kept = [list(functions) for functions in hooks]
    for functions in hooks:
        functions.clear()
    without_hooks_us = per_call(lambda: wsgi_call(app, "GET", api.PATH), count)
    for functions, saved in zip(hooks, kept, strict=True):
        functions[:] = saved
    print("GET /api/adoptions/count (1.000 deelnemers), µs per verzoek:")
    print(f"  kaal Flask {bare_us:6.0f}   ons {ours_us:6.0f}   ons zonder request-hooks "
          f"{without_hooks_us:6.0f}")
    print(f"  telling via de sessie (begin, query, rollback) {read_us:6.0f}   "
          f"dezelfde query rechtstreeks in SQLite {query_us:6.0f}")


def limit_counts(tmp: Path, count: int) -> None:
    """The one count query of a Versturen, as the day's total grows."""
    from sqlalchemy import func, insert, select

    from mailer import create_app, limits
    from mailer.extensions import db
    from mailer.models import RateEvent, utcnow

    uri = api.migrated_database(tmp / "limits.sqlite")
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "bench", "HASH_KEY": "bench"})
    hour, day, month = timedelta(hours=1), timedelta(days=1), timedelta(days=30)
    pairs = [("invite-once:n", day), ("invite-ip:c", hour), ("invite-ip:c", day),
             ("invite-to:m", month), ("invite-domain:d", day), ("invite-share:s", day),
             ("invite-total", day)]
    print("telling van de limieten van één tip (zeven vensters), µs:")
    with app.app_context():
        for events in (0, 1000, 12000):
            have = db.session.scalar(select(func.count()).select_from(RateEvent))
            now = utcnow()
            rows = [{"key": "invite-total", "at": now - timedelta(seconds=n % 3600)}
                    for n in range(events - have)]
            if rows:
                db.session.execute(insert(RateEvent.__table__), rows)
            db.session.commit()
            spent = per_call(lambda: limits.counts(pairs), count)
            print(f"  {events:6d} tips vandaag: {spent:6.0f}")
            db.session.rollback()


def submit(tmp: Path, count: int) -> None:
    """Versturen against the peer's form POST, each with its own signed preview."""
    from mailer import create_app

    uri = f"sqlite:///{tmp / 'submit.sqlite'}"
    bodies = tmp / "bodies.txt"
    invites.prepare(uri, bodies, 2 * count + 400)
    lines = iter(bodies.read_text().splitlines())
    peer = invites.peer_app(uri)
    ours = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "bench", "HASH_KEY": "bench",
                       "WTF_CSRF_ENABLED": False, "TRUSTED_PROXIES": 1, "SITE_DIR": str(tmp),
                       "INVITE_LIMIT_TOTAL_DAY": 2 * count + 400})

    def post(app):
        client, body = next(lines).split("\t")
        status = wsgi_call(app, "POST", invites.PATH, body.encode(),
                           {"HTTP_X_FORWARDED_FOR": client})
        assert status.startswith("303"), status

    peer_us, ours_us = per_call(lambda: post(peer), count), per_call(lambda: post(ours), count)
    print(f"Versturen, µs per verzoek: Flask-SQLAlchemy-formulier {peer_us:6.0f}   "
          f"Tip een collega {ours_us:6.0f}")


def main() -> int:
    """Measure each part and print it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        count_api(tmp, args.requests)
        limit_counts(tmp, max(1, args.requests // 4))
        submit(tmp, args.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
