"""Benchmark (not a test): sending an invitation against a bare Flask form POST.

Both apps run under gunicorn with the same settings on 127.0.0.1 and are loaded by `wrk` with 16
keep-alive connections, one after the other in the same run. Ours answers Versturen: it checks
the signed preview, applies every limit (nonce, client IP, opt-out, recipient, domain, total) and
queues the mail in the outbox, committed (in a transaction shared with the submits that other
threads of its process made meanwhile) before it answers. Each request carries its own signed
preview for its own colleague, so none is dropped as a repeat; each comes from its own client
address (X-Forwarded-For behind one trusted proxy) and the limits are raised so none is refused.
CSRF checking is off for both, as the bare app has none; the signed preview is still checked.
The two take turns in several rounds (the machine's load changes over a run); the figures are
medians of the rounds. Targets: at least 0.5 of the bare app's requests per second, and a p99
latency under 25 ms.

By default both run in threaded workers (one per core, 8 threads each, keep-alive). `--deployed`
runs them as `deploy/mailer-web.service` does: 4 sync workers, a new connection per request
(as from nginx in `deploy/nginx.conf`).

`--without-write` measures ours with the database write left out (every submit answered as if
stored): the most any way of storing could reach on this machine, next to the same baseline.

Usage: .venv/bin/python bench/invites.py [--seconds 10] [--connections 16] [--rounds 3]
       [--deployed] [--without-write]
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

from servers import Gunicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PATH = "/tip-een-collega/versturen"
RATIO_TARGET = 0.5
P99_TARGET_MS = 25
GUNICORN = ["--workers", str(os.cpu_count() or 2), "--worker-class", "gthread", "--threads", "8",
            "--keep-alive", "30", "--log-level", "warning"]
DEPLOYED = ["--workers", "4", "--worker-class", "sync", "--log-level", "warning"]
RAISED = {f"MAILER_INVITE_LIMIT_{name}": "1000000000"
          for name in ("IP_HOUR", "IP_DAY", "DOMAIN_DAY", "TOTAL_DAY")}
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


def bare_app():
    """The baseline: the smallest Flask app that reads a form POST and redirects."""
    from flask import Flask, redirect, request

    app = Flask("bare")

    @app.post(PATH)
    def send():
        """Read the form and answer like ours does."""
        if not request.form.get("pending"):
            return "leeg", 400
        return redirect("/tip-een-collega/verstuurd/", 303)

    return app


def unwritten_app():
    """Ours with the submit's database write left out, for `--without-write`; not for use."""
    import gc

    from mailer import create_app
    from mailer.invites import email, routes

    routes.send_invitations = lambda pending, rows, client_key: email.SENT
    app = create_app()
    gc.collect()
    gc.freeze()  # as mailer.wsgi does
    return app


def prepare(path: Path, count: int) -> str:
    """A migrated database, and `count` signed previews written one per line to a file."""
    from flask_migrate import upgrade

    from mailer import create_app
    from mailer.invites.email import sign_pending

    uri = f"sqlite:///{path}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "bench"})
    with app.app_context():
        upgrade()
        lines = []
        for n in range(count):
            pending = {"voornaam": "Jan", "achternaam": "Jansen",
                       "to": [f"collega{n}@bedrijf{n % 5000}.example"]}
            client = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
            lines.append(client + "\t" + urlencode({"pending": sign_pending(pending, None)}))
    (path.parent / "bodies.txt").write_text("\n".join(lines))
    return uri


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


def queued(path: Path) -> int:
    """How many mails the run put in the outbox."""
    import sqlite3

    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT count(*) FROM outbox_mail").fetchone()[0]


def main() -> int:
    """Measure the bare form POST and ours; non-zero if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--bodies", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--deployed", action="store_true",
                        help="gunicorn as deploy/mailer-web.service runs it (4 sync workers)")
    parser.add_argument("--without-write", action="store_true",
                        help="ours without its database write: the ceiling of any way of storing")
    args = parser.parse_args()
    settings = DEPLOYED if args.deployed else GUNICORN
    if not shutil.which("wrk"):
        print("wrk ontbreekt: apt-get install -y wrk")
        return 1
    print(f"gunicorn {' '.join(settings)}; {args.connections} verbindingen, {args.rounds} rondes "
          f"van {args.seconds} s per app, belasting met wrk", flush=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite"
        uri = prepare(path, args.bodies)
        bodies = Path(tmp) / "bodies.txt"
        env = {"MAILER_SQLALCHEMY_DATABASE_URI": uri, "MAILER_SECRET_KEY": "bench",
               "MAILER_SITE_DIR": tmp, "MAILER_WTF_CSRF_ENABLED": "false",
               "MAILER_TRUSTED_PROXIES": "1", **RAISED}
        bare_server = Gunicorn("invites:bare_app()", {}, settings)
        ours_app = "invites:unwritten_app()" if args.without_write else "mailer.wsgi:app"
        ours_server = Gunicorn(ours_app, env, settings)
        region = args.bodies // (args.rounds + 1)  # each round its own, never-sent previews
        with bare_server as bare, ours_server as ours:
            load(bare.port, 1, args.connections, bodies, 0)  # warm up
            load(ours.port, 1, args.connections, bodies, 0)
            for number in range(1, args.rounds + 1):
                results.append((load(bare.port, args.seconds, args.connections, bodies, 0),
                                load(ours.port, args.seconds, args.connections, bodies,
                                     number * region)))
        mails = queued(path)
    bare_rps, ours_rps = (statistics.median(r[n][0] for r in results) for n in (0, 1))
    bare_p99, ours_p99 = (statistics.median(r[n][1] for r in results) for n in (0, 1))
    ratio = statistics.median(ours[0] / bare[0] for bare, ours in results)
    print(f"kaal Flask-formulier  {bare_rps:8.0f} req/s   p99 {bare_p99:6.1f} ms")
    label = "zonder schrijven" if args.without_write else "Tip een collega"
    print(f"{label:20s}  {ours_rps:8.0f} req/s   p99 {ours_p99:6.1f} ms   "
          f"({mails} mails in de outbox; medianen van {args.rounds} rondes)")
    ok_ratio, ok_p99 = ratio >= RATIO_TARGET, ours_p99 < P99_TARGET_MS
    verdicts = ["gehaald" if ok else "NIET gehaald" for ok in (ok_ratio, ok_p99)]
    print(f"verhouding {ratio:.2f} (doel ≥ {RATIO_TARGET}: {verdicts[0]})   "
          f"p99 {ours_p99:.1f} ms (doel < {P99_TARGET_MS} ms: {verdicts[1]})", flush=True)
    return 0 if ok_ratio and ok_p99 else 1


if __name__ == "__main__":
    sys.exit(main())
