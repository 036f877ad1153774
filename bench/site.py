"""Benchmark (not a test): our site as `make run` serves it, beside stock Material.

Lighthouse mobile (simulated slow 4G and a slow phone) on every page: the static pages, both forms,
the tip's preview, the thank-you pages, the self-scan and its result, and the 404. Ours is served
by the service itself (the built site compressed at build, WhiteNoise, the forms); pages that only
a POST shows (the preview, the self-scan's result) are rendered by the service once and served
from the same origin. Stock Material gets the same Markdown, served gzipped by a static server.
For the home page it prints the bytes transferred, the requests and the Largest Contentful Paint.

Usage: .venv/bin/python bench/site.py [--runs 3] [--builds 5] [--pages / /zelfscan/ ...]
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from site_helpers import NAV, PAGES, SiteServer  # noqa: E402

BENCH = ROOT / "bench"
LIGHTHOUSE = BENCH / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
CHROME_FLAGS = "--headless --no-sandbox --disable-gpu"
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
TARGET_SCORE = 100
HOME_BUDGET_KIB = 50
LCP_BUDGET_MS = 1000
# Pages only the service shows: thank-you pages and the 404, and snapshots of POST answers.
# (Lighthouse stops at a 404 status, so the 404 page is measured as a copy too.)
DYNAMIC = ["/tip-een-collega/verstuurd/", "/meedoen/verstuurd/", "/meedoen/bevestigd/"]
SNAPSHOTS = {"/_bench/voorbeeld-tip/": "the tip's preview",
             "/_bench/uitslag-zelfscan/": "the self-scan's result",
             "/_bench/niet-gevonden/": "the 404 page"}
STOCK_PAGES = ["/", "/incassobeleid/", "/warm-doorverwijzen/"]


def stock_project(dest: Path) -> Path:
    """Write a stock Material project with our pages (no custom templates); return its config."""
    docs = dest / "content"
    shutil.copytree(ROOT / "content", docs)
    for page in docs.glob("*.md"):  # our custom templates do not exist in stock Material
        text = page.read_text(encoding="utf-8")
        page.write_text(re.sub(r"(?m)^template: .*\n", "", text), encoding="utf-8")
    nav = "\n".join(f"  - {name}" for name in NAV.values())
    config = dest / "mkdocs.yml"
    config.write_text(
        "site_name: Schuldeiserscoalitie\n"
        "site_url: http://127.0.0.1:8000/\n"
        "docs_dir: content\n"
        "theme:\n  name: material\n  language: nl\n  font: false\n"
        "plugins:\n  - search:\n      lang: nl\n"
        "markdown_extensions:\n  - attr_list\n  - md_in_html\n  - admonition\n  - toc\n"
        f"nav:\n{nav}\n",
        encoding="utf-8",
    )
    return config


def build(config: Path, site: Path) -> float:
    """Build one site and return the seconds it took."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(config), "-d", str(site)],
        check=True, env=env, cwd=config.parent, stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def make_app(site: Path, tmp: Path):
    """The service as `make run` has it, on a fresh database, serving `site`."""
    from conftest import migrated_database

    from mailer import create_app

    return create_app({
        "SECRET_KEY": "bench", "SITE_DIR": str(site), "MAIL_FILE_DIR": str(tmp / "mail"),
        "SQLALCHEMY_DATABASE_URI": migrated_database(tmp / "bench.sqlite"),
        "INVITE_MIN_SECONDS": 0, "JOIN_MIN_FILL_SECONDS": 0,
    })


def snapshot_post_pages(site: Path, tmp: Path) -> dict[str, str]:
    """Render the pages only a POST shows and keep them in the site; returns what failed."""
    app = make_app(site, tmp)
    client = app.test_client()
    failed = {}

    def hidden_fields(page: str) -> dict:
        """The hidden inputs of the page's form (CSRF token, start stamp), as a browser sends."""
        fields = {}
        for tag in re.findall(r'<input[^>]*type="hidden"[^>]*>', page):
            name, value = re.search(r'name="([^"]*)"', tag), re.search(r'value="([^"]*)"', tag)
            if name:
                fields[name.group(1)] = value.group(1) if value else ""
        return fields

    scan = {f"vraag_{n}": str(n % 3) for n in range(1, 11)}
    tip = {"voornaam": "Annemarie", "achternaam": "de Vries",
           "collega_1": "debiteuren@voorbeeld.example"}
    for path, url, data in (("/_bench/uitslag-zelfscan/", "/zelfscan/", scan),
                            ("/_bench/voorbeeld-tip/", "/tip-een-collega/", tip)):
        page = client.get(url).get_data(as_text=True)
        answer = client.post(url, data={**hidden_fields(page), **data})
        html = answer.get_data(as_text=True)
        if answer.status_code != 200 or "<form" in html and "mailer-errors" in html:
            failed[path] = f"status {answer.status_code}"
            continue
        target = site / path.strip("/") / "index.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")
    missing = client.get("/bestaat-niet/")
    target = site / "_bench" / "niet-gevonden" / "index.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(missing.get_data(as_text=True), encoding="utf-8")
    return failed


@contextmanager
def serve_app(site: Path, tmp: Path):
    """The service on 127.0.0.1 in a thread; yields its origin."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, make_app(site, tmp), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def ensure_lighthouse() -> None:
    """Install the pinned Lighthouse into bench/node_modules when it is missing."""
    if not LIGHTHOUSE.exists():
        subprocess.run(["npm", "install", "--prefix", str(BENCH), "--no-audit", "--no-fund"],
                       check=True)


def lighthouse(url: str) -> dict[str, float]:
    """One mobile Lighthouse run: the four scores, LCP (ms), bytes and requests."""
    result = subprocess.run(
        [str(LIGHTHOUSE), url, "--quiet", "--output=json", "--output-path=stdout",
         f"--only-categories={','.join(CATEGORIES)}", f"--chrome-flags={CHROME_FLAGS}"],
        check=True, capture_output=True, text=True, env={**os.environ, "CHROME_PATH": CHROMIUM},
    )
    report = json.loads(result.stdout)
    audits = report["audits"]
    figures = {c: report["categories"][c]["score"] * 100 for c in CATEGORIES}
    figures["lcp"] = audits["largest-contentful-paint"]["numericValue"]
    figures["kib"] = audits["total-byte-weight"]["numericValue"] / 1024
    figures["requests"] = len(audits["network-requests"]["details"]["items"])
    return figures


def median_runs(url: str, runs: int) -> dict[str, float]:
    """The median of each figure over `runs` Lighthouse runs."""
    results = [lighthouse(url) for _ in range(runs)]
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def main() -> int:
    """Measure, print ours beside stock, and exit 1 when ours misses a target."""
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log lines in the table
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3, help="Lighthouse runs per page (median)")
    parser.add_argument("--pages", nargs="*", help="only these pages of ours")
    args = parser.parse_args()
    ensure_lighthouse()
    from mailer.build import finish_site

    ours_pages = args.pages or [*PAGES, *DYNAMIC, *SNAPSHOTS]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sites = {"ours": (ROOT / "mkdocs.yml", tmp / "ours"),
                 "stock": (stock_project(tmp / "stock"), tmp / "stock-site")}
        times = {name: statistics.median(build(config, site) for _ in range(args.builds))
                 for name, (config, site) in sites.items()}
        failed = snapshot_post_pages(sites["ours"][1], tmp)
        finish_site(sites["ours"][1], sites["ours"][1], tmp / "security-headers.conf")
        ours, stock = {}, {}
        with (serve_app(sites["ours"][1], tmp) as origin,
              SiteServer(sites["stock"][1], compress=True) as stock_server):
            for path in ours_pages:
                if path in failed:
                    continue
                ours[path] = median_runs(origin + path, args.runs)
                if path in STOCK_PAGES:
                    stock[path] = median_runs(stock_server.origin + path, args.runs)

    row = "{:<34}{:>22}{:>10}{:>9}{:>6}   {}"
    print(f"build time, median of {args.builds}: ours {times['ours']:.2f} s, "
          f"stock {times['stock']:.2f} s")
    print(row.format("page", "P/A/BP/SEO", "LCP ms", "KiB", "req", "stock Material"))
    failures = [f"{SNAPSHOTS.get(path, path)}: not rendered ({why})"
                for path, why in failed.items()]
    for path, figures in ours.items():
        scores = "/".join(str(round(figures[c])) for c in CATEGORIES)
        other = stock.get(path)
        beside = (f"{'/'.join(str(round(other[c])) for c in CATEGORIES)}, "
                  f"{other['lcp']:.0f} ms, {other['kib']:.1f} KiB, {other['requests']:.0f} req"
                  if other else "")
        print(row.format(path, scores, f"{figures['lcp']:.0f}", f"{figures['kib']:.1f}",
                         f"{figures['requests']:.0f}", beside))
        failures += [f"{category} on {path}: {figures[category]:.0f}" for category in CATEGORIES
                     if figures[category] < TARGET_SCORE]
    home = ours.get("/")
    if home:
        if home["kib"] > HOME_BUDGET_KIB:
            failures.append(f"home page {home['kib']:.1f} KiB > {HOME_BUDGET_KIB} KiB")
        if home["lcp"] > LCP_BUDGET_MS:
            failures.append(f"home page LCP {home['lcp']:.0f} ms > {LCP_BUDGET_MS} ms")
    for failure in failures:
        print("MISSED:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
