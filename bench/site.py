"""Benchmark (not a test): our site beside stock Material with the same pages.

Prints build time (median of 5), the home page's HTML+CSS+JS bytes gzipped, the number of
requests on the home page, and Lighthouse's four mobile scores (median of 3 runs) for three pages.
Both sites are served by the same local static server that gzips text, as nginx does in
production; ours also gets the count API the service provides on the same origin.

Usage: .venv/bin/python bench/site.py [--runs 3] [--builds 5]
"""

import argparse
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from site_helpers import PAGES, SiteServer  # noqa: E402

BENCH = ROOT / "bench"
LIGHTHOUSE = BENCH / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
CHROME_FLAGS = "--headless --no-sandbox --disable-gpu"
LIGHTHOUSE_PAGES = ["/", "/incassobeleid/", "/warm-doorverwijzen/"]
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
TARGETS = {"performance": 98, "accessibility": 100, "best-practices": 100, "seo": 100}
HOME_BUDGET = 70 * 1024


def stock_project(dest: Path) -> Path:
    """Write a stock Material project with our pages (no custom templates); return its config."""
    docs = dest / "content"
    shutil.copytree(ROOT / "content", docs)
    for page in docs.glob("*.md"):  # our custom templates do not exist in stock Material
        text = page.read_text(encoding="utf-8")
        page.write_text(re.sub(r"(?m)^template: .*\n", "", text), encoding="utf-8")
    nav = "\n".join(f"  - {name}" for name in PAGES.values())
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


def home_bytes(site: Path) -> int:
    """Gzipped bytes of the home page's HTML plus every stylesheet and script it links."""
    html = (site / "index.html").read_text(encoding="utf-8")
    assets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assets += re.findall(r'<script[^>]*\bsrc="([^"]+)"', html)
    files = [site / "index.html"] + [site / a.split("?")[0] for a in assets]
    return sum(len(gzip.compress(f.read_bytes(), 9)) for f in files)


def count_requests(origin: str) -> int:
    """Requests the home page makes until the network is idle, in headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROME_FLAGS.split() + ["--no-first-run"]
        )
        page = browser.new_page(viewport={"width": 390, "height": 844})
        urls: list[str] = []
        page.on("request", lambda request: urls.append(request.url))
        page.goto(origin + "/", wait_until="networkidle")
        browser.close()
    return len(urls)


def ensure_lighthouse() -> None:
    """Install the pinned Lighthouse into bench/node_modules when it is missing."""
    if not LIGHTHOUSE.exists():
        subprocess.run(["npm", "install", "--prefix", str(BENCH), "--no-audit", "--no-fund"],
                       check=True)


def lighthouse(url: str) -> dict[str, float]:
    """One mobile Lighthouse run: the four category scores (0-100)."""
    result = subprocess.run(
        [str(LIGHTHOUSE), url, "--quiet", "--output=json", "--output-path=stdout",
         f"--only-categories={','.join(CATEGORIES)}", f"--chrome-flags={CHROME_FLAGS}"],
        check=True, capture_output=True, text=True, env={**os.environ, "CHROME_PATH": CHROMIUM},
    )
    report = json.loads(result.stdout)
    return {c: report["categories"][c]["score"] * 100 for c in CATEGORIES}


def main() -> int:
    """Measure both sites and print them side by side; exit 1 when ours misses a target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ensure_lighthouse()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sites = {"ours": (ROOT / "mkdocs.yml", tmp / "ours"),
                 "stock": (stock_project(tmp / "stock"), tmp / "stock-site")}
        times = {name: statistics.median(build(config, site) for _ in range(args.builds))
                 for name, (config, site) in sites.items()}
        size = {name: home_bytes(site) for name, (_, site) in sites.items()}
        with (SiteServer(sites["ours"][1], api_count=25, compress=True) as ours,
              SiteServer(sites["stock"][1], compress=True) as stock):
            servers = {"ours": ours, "stock": stock}
            requests = {name: count_requests(server.origin) for name, server in servers.items()}
            # Runs alternate between the two sites so load on the machine hits both alike.
            runs = {(name, p): [] for name in servers for p in LIGHTHOUSE_PAGES}
            for _ in range(args.runs):
                for p in LIGHTHOUSE_PAGES:
                    for name, server in servers.items():
                        runs[name, p].append(lighthouse(server.origin + p))
        scores = {name: {p: {c: round(statistics.median(r[c] for r in runs[name, p]))
                             for c in CATEGORIES} for p in LIGHTHOUSE_PAGES}
                  for name in servers}

    row = "{:<44}{:>12}{:>12}"
    print(row.format("", "ours", "stock"))
    print(row.format(f"build time, median of {args.builds} (s)",
                     f"{times['ours']:.2f}", f"{times['stock']:.2f}"))
    ratio = times["ours"] / times["stock"]
    print(row.format("build time ratio (ours / stock)", f"{ratio:.2f}", ""))
    print(row.format("home HTML+CSS+JS gzipped (KB)",
                     f"{size['ours'] / 1024:.1f}", f"{size['stock'] / 1024:.1f}"))
    print(row.format("home requests", requests["ours"], requests["stock"]))
    failures = []
    for path in LIGHTHOUSE_PAGES:
        for category in CATEGORIES:
            ours, stock = scores["ours"][path][category], scores["stock"][path][category]
            print(row.format(f"lighthouse mobile {category} {path}", ours, stock))
            if ours < TARGETS[category]:
                failures.append(f"{category} on {path}: {ours} < {TARGETS[category]}")
    if size["ours"] > HOME_BUDGET:
        failures.append(f"home page {size['ours']} bytes > {HOME_BUDGET}")
    for failure in failures:
        print("MISSED:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
