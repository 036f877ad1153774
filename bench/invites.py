"""Benchmark (not a test): sending an invitation against the idiomatic Flask form POST.

The peer is what a competent Flask developer would write: a form POST that stores one row with
Flask-SQLAlchemy, commits and redirects. Ours answers Versturen: it checks the signed preview,
applies every limit (nonce, client address, opt-out, colleague, domain, daily total) and queues
the mail in the outbox, committed before it answers. Both run on the same database under the
same gunicorn workers as `deploy/gunicorn.conf.py` sets (4 sync; no access log), loaded by `wrk`
with 16 connections, taking turns in several rounds of the same run; the figures are medians.

Each request carries its own signed preview for its own colleague, from its own client address
(X-Forwarded-For behind one trusted proxy), so the limits stay on as configured; only the daily
total is raised, to the number of previews the run can send. CSRF checking is off for both, as
the peer has none; the signed preview is still checked.

Targets: at least 0.5 of the peer's requests per second and a p99 latency under 100 ms, on
SQLite and on PostgreSQL (a throwaway server from Debian's packages, started here).

Usage: .venv/bin/python bench/invites.py [--database sqlite|postgresql|both] [--seconds 10]
       [--connections 16] [--rounds 3]
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from servers import DEPLOYED, Gunicorn, Postgres

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PATH = "/tip-een-collega/versturen"
RATIO_TARGET = 0.5
P99_TARGET_MS = 100
# wrk sends the prepared bodies in turn; each thread takes every n-th line, so none repeats.
WRK_SCRIPT = """
local threads, counter = {}, 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  bodies = {}
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
  step = tonumber(args[2])
  i = id + tonumber(args[3])
end
function request()
  i = i + step
  local line = bodies[(i % #bodies) + 1]
  local sep = line:find("\\t")
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Forwarded-For"] = line:sub(1, sep - 1),
  }, line:sub(sep + 1))
end
"""


def peer_app(uri: str | None = None, create_tables: bool = False):
    """The idiomatic peer: a Flask form POST that stores one row with Flask-SQLAlchemy.

    Gunicorn's workers call it bare, with the database in MAILER_SQLALCHEMY_DATABASE_URI;
    `prepare` makes its table once, before they start (four at once would race each other)."""
    from datetime import datetime

    from flask import Flask, redirect, request
    from flask_sqlalchemy import SQLAlchemy
    from sqlalchemy.orm import Mapped, mapped_column

    app = Flask("peer")
    app.config["SQLALCHEMY_DATABASE_URI"] = uri or os.environ["MAILER_SQLALCHEMY_DATABASE_URI"]
    db = SQLAlchemy(app)

    class Submission(db.Model):
        """One form post."""

        id: Mapped[int] = mapped_column(primary_key=True)
        pending: Mapped[str]
        created_at: Mapped[datetime] = mapped_column(default=datetime.now)

    if create_tables:
        with app.app_context():
            db.create_all()

    @app.post(PATH)
    def send():
        """Store the form and answer like ours does."""
        pending = request.form.get("pending")
        if not pending:
            return "leeg", 400
        db.session.add(Submission(pending=pending))
        db.session.commit()
        return redirect("/tip-een-collega/verstuurd/", 303)

    return app


def prepare(uri: str, bodies: Path, count: int) -> None:
    """Migrate the database, and write `count` signed previews to `bodies`, one per line."""
    from flask_migrate import upgrade

    from mailer import create_app
    from mailer.invites.email import sign_pending

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "bench",
                      "HASH_KEY": "bench"})
    with app.app_context():
        upgrade()
        lines = []
        for n in range(count):
            pending = {"voornaam": "Jan", "achternaam": "Jansen",
                       "to": [f"collega{n}@bedrijf{n % 5000}.example"]}
            client = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
            lines.append(client + "\t" + urlencode({"pending": sign_pending(pending, None)}))
    bodies.write_text("\n".join(lines))
    peer_app(uri, create_tables=True)


def load(port: int, seconds: float, connections: int, bodies: Path, offset: int) -> tuple:
    """Requests per second and p99 latency (ms) under `wrk`; fails on any error answer."""
    script = bodies.parent / "post.lua"
    script.write_text(WRK_SCRIPT)
    threads = min(connections, os.cpu_count() or 2)
    output = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
         "--latency", "--timeout", "5s", "-s", str(script), f"http://127.0.0.1:{port}{PATH}", "--",
         str(bodies), str(threads), str(offset)],
        capture_output=True, text=True, check=True,
    ).stdout
    if re.search(r"Non-2xx or 3xx responses: \d+", output):
        raise RuntimeError("foutantwoorden tijdens de meting:\n" + output)
    if "Socket errors" in output:  # wrk's timeouts: a fact about the run, reported as such
        print("  wrk:", re.search(r"Socket errors:.*", output).group(0), flush=True)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", output).groups()
    p99 = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    return rps, p99


def measure(uri: str, tmp: Path, args) -> bool:
    """Run the peer and ours on one database; print the figures; True if both targets are met."""
    bodies = tmp / "bodies.txt"
    prepare(uri, bodies, args.bodies)
    env = {"MAILER_SQLALCHEMY_DATABASE_URI": uri, "MAILER_SECRET_KEY": "bench",
           "MAILER_HASH_KEY": "bench", "MAILER_SITE_DIR": str(tmp),
           "MAILER_WTF_CSRF_ENABLED": "false", "MAILER_TRUSTED_PROXIES": "1",
           "MAILER_INVITE_LIMIT_TOTAL_DAY": str(args.bodies)}
    results = []
    region = args.bodies // (args.rounds + 1)  # each round its own, never-sent previews
    with Gunicorn("invites:peer_app()", env, DEPLOYED) as peer, \
            Gunicorn("mailer.wsgi:app", env, DEPLOYED) as ours:
        load(peer.port, 1, args.connections, bodies, 0)  # warm up
        load(ours.port, 1, args.connections, bodies, 0)
        cpu = {"peer": [0.0, 0], "ours": [0.0, 0]}  # CPU seconds, requests
        for number in range(1, args.rounds + 1):
            round_results = []
            for name, server, offset in (("peer", peer, 0), ("ours", ours, number * region)):
                before = server.cpu_seconds()
                rps, p99 = load(server.port, args.seconds, args.connections, bodies, offset)
                cpu[name][0] += server.cpu_seconds() - before
                cpu[name][1] += rps * args.seconds
                round_results.append((rps, p99))
            results.append(tuple(round_results))
    peer_rps, ours_rps = (statistics.median(r[n][0] for r in results) for n in (0, 1))
    peer_p99, ours_p99 = (statistics.median(r[n][1] for r in results) for n in (0, 1))
    ratio = statistics.median(ours[0] / peer[0] for peer, ours in results)
    # CPU per request served hardly depends on what else the machine is doing; req/s does.
    peer_us, ours_us = (cpu[name][0] / cpu[name][1] * 1e6 for name in ("peer", "ours"))
    print(f"  Flask-SQLAlchemy-formulier  {peer_rps:6.0f} req/s   p99 {peer_p99:6.1f} ms   "
          f"{peer_us:5.0f} µs CPU per verzoek")
    print(f"  Tip een collega             {ours_rps:6.0f} req/s   p99 {ours_p99:6.1f} ms   "
          f"{ours_us:5.0f} µs CPU per verzoek (verhouding {peer_us / ours_us:.2f})")
    ok_ratio, ok_p99 = ratio >= RATIO_TARGET, ours_p99 < P99_TARGET_MS
    verdicts = ["gehaald" if ok else "NIET gehaald" for ok in (ok_ratio, ok_p99)]
    print(f"  verhouding {ratio:.2f} (doel ≥ {RATIO_TARGET}: {verdicts[0]})   "
          f"p99 {ours_p99:.1f} ms (doel < {P99_TARGET_MS} ms: {verdicts[1]})", flush=True)
    return ok_ratio and ok_p99


def main() -> int:
    """Measure the peer and ours on each database; non-zero if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--bodies", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk ontbreekt: apt-get install -y wrk")
        return 1
    print(f"gunicorn {' '.join(DEPLOYED)}; {args.connections} verbindingen, {args.rounds} rondes "
          f"van {args.seconds} s per app, belasting met wrk", flush=True)
    met = True
    if args.database in ("sqlite", "both"):
        print("SQLite:", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            met &= measure(f"sqlite:///{Path(tmp) / 'bench.sqlite'}", Path(tmp), args)
    if args.database in ("postgresql", "both"):
        print("PostgreSQL:", flush=True)
        with tempfile.TemporaryDirectory() as tmp, Postgres() as uri:
            met &= measure(uri, Path(tmp), args)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
