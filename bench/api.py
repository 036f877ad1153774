"""Benchmark (not a test): `GET /api/adoptions/count` against a bare Flask JSON endpoint.

Both run under gunicorn with the deployed workers (4 sync, no access log) on 127.0.0.1 and are
loaded with 16 connections, taking turns in 2-second slices in the same run: first with an empty
registry, then with 1,000 approved adopters (more than the coalition's creditors could bring) in
the database. The count is read from the database on every request: an approval shows at once.
Target: at least 0.7 of the bare endpoint's requests per second in both cases.

The load comes from `wrk` (`apt-get install -y wrk`); without it, from Python processes with
threads, which may then be the bottleneck themselves (the output says so).

Usage: .venv/bin/python bench/api.py [--seconds 10] [--connections 16] [--adopters 1000]
"""

import argparse
import http.client
import json
import multiprocessing
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from servers import DEPLOYED, Gunicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PATH = "/api/adoptions/count"
TARGET = 0.7


def bare_app():
    """The baseline: the smallest Flask app with one JSON endpoint of the same shape."""
    from flask import Flask, jsonify

    app = Flask("bare")

    @app.get(PATH)
    def count():
        """A fixed answer, no database."""
        return jsonify(count=25, updated="2026-11-23T00:00:00Z")

    return app


def migrated_database(path: Path) -> str:
    """A database file with every migration applied; returns its URI."""
    from flask_migrate import upgrade

    from mailer import create_app

    uri = f"sqlite:///{path}"
    with create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "bench",
                     "HASH_KEY": "bench"}).app_context():
        upgrade()
    return uri


def insert_adopters(path: Path, number: int) -> None:
    """Add `number` approved adopters straight into the database file, in one transaction."""
    now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    rows = ((f"Onderneming {i}", f"{10_000_000 + i}", "overig", f"onderneming-{i}", now, now)
            for i in range(number))
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT INTO registration (company_name, kvk, sector, slug, contact_name, "
            "contact_email, adopted_policy, warm_referral, list_publicly, status, created_at, "
            "decided_at) VALUES (?, ?, ?, ?, '', '', 1, 0, 1, 'approved', ?, ?)", rows)
    connection.close()


def get(port: int) -> dict:
    """One request to the count path; the JSON answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", PATH)
        response = connection.getresponse()
        assert response.status == 200, response.status
        return json.loads(response.read())
    finally:
        connection.close()


def load(port: int, seconds: float, connections: int) -> float:
    """Requests per second that `port` answers on the count path with keep-alive connections."""
    if shutil.which("wrk"):
        threads = min(connections, os.cpu_count() or 2)
        output = subprocess.run(
            ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
             f"http://127.0.0.1:{port}{PATH}"],
            capture_output=True, text=True, check=True,
        ).stdout
        if re.search(r"Non-2xx or 3xx responses: \d+", output):
            raise RuntimeError("foutantwoorden tijdens de meting:\n" + output)
        return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    return _python_load(port, seconds, connections)


def _python_load(port: int, seconds: float, connections: int) -> float:
    """The same load from Python: processes of threads, each with one keep-alive connection."""
    processes = min(connections, os.cpu_count() or 2)
    per_process = [connections // processes + (i < connections % processes)
                   for i in range(processes)]
    with multiprocessing.Pool(processes) as pool:
        counts = pool.starmap(_python_worker, [(port, seconds, n) for n in per_process])
    return sum(counts) / seconds


def _python_worker(port: int, seconds: float, threads: int) -> int:
    """Requests done by `threads` threads of one process in `seconds`."""
    done = [0] * threads
    stop = time.monotonic() + seconds

    def run(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < stop:
            connection.request("GET", PATH)
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                done[index] += 1

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(done)


def measure(label: str, env: dict, expected: int, args) -> float:
    """Load the bare endpoint and ours in turn; print both and their ratio."""
    settings = DEPLOYED
    with (Gunicorn("api:bare_app()", {}, settings) as bare,
          Gunicorn("mailer.wsgi:app", env, settings) as ours):
        got = get(ours.port)["count"]
        assert got == expected, f"telling {got}, verwacht {expected}"
        for server in (bare, ours):  # warm up: imports, connections, the first count
            load(server.port, 1, args.connections)
        # Take turns in short slices, so a busy moment on the machine weighs on both alike.
        rounds = max(1, args.seconds // 2)
        totals = {"bare": [0.0, 0.0, 0.0], "ours": [0.0, 0.0, 0.0]}  # req/s, requests, CPU s
        for _ in range(rounds):
            for name, server in (("bare", bare), ("ours", ours)):
                cpu = server.cpu_seconds()
                rps = load(server.port, args.seconds / rounds, args.connections)
                totals[name][0] += rps / rounds
                totals[name][1] += rps * args.seconds / rounds
                totals[name][2] += server.cpu_seconds() - cpu
    (bare_rps, bare_n, bare_cpu), (ours_rps, ours_n, ours_cpu) = totals["bare"], totals["ours"]
    ratio = ours_rps / bare_rps
    # CPU per request served hardly depends on what else the machine is doing; req/s does.
    bare_us, ours_us = bare_cpu / bare_n * 1e6, ours_cpu / ours_n * 1e6
    verdict = "gehaald" if ratio >= TARGET else "NIET gehaald"
    print(f"{label}\n"
          f"  kaal Flask            {bare_rps:7.0f} req/s   {bare_us:4.0f} µs CPU per verzoek\n"
          f"  /api/adoptions/count  {ours_rps:7.0f} req/s   {ours_us:4.0f} µs CPU per verzoek\n"
          f"  verhouding req/s {ratio:.2f} (doel ≥ {TARGET}: {verdict}); "
          f"verhouding CPU per verzoek {bare_us / ours_us:.2f}", flush=True)
    return ratio


def main() -> int:
    """Measure with an empty registry and with many adopters; non-zero if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--adopters", type=int, default=1_000)
    args = parser.parse_args()
    tool = "wrk" if shutil.which("wrk") else "Python (wrk ontbreekt; de meter kan de grens zijn)"
    print(f"belasting van de machine vooraf: {os.getloadavg()[0]:.1f} op {os.cpu_count()} kernen")
    print(f"gunicorn {' '.join(DEPLOYED)}; {args.connections} verbindingen, "
          f"{args.seconds:g} s per meting, belasting met {tool}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite"
        env = {"MAILER_SQLALCHEMY_DATABASE_URI": migrated_database(path),
               "MAILER_SECRET_KEY": "bench", "MAILER_HASH_KEY": "bench", "MAILER_SITE_DIR": tmp}
        ratios = [measure("leeg register", env, 25, args)]
        insert_adopters(path, args.adopters)
        ratios.append(measure(f"{args.adopters:,} deelnemers".replace(",", "."), env,
                              25 + args.adopters, args))
    return 0 if min(ratios) >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
