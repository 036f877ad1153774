"""Shared fixtures: a built site, a real database file per test, a real SMTP server on 127.0.0.1."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from flask.testing import FlaskClient
from flask_migrate import upgrade
from werkzeug.serving import make_server

from mailer import create_app
from mailer.build import finish_site, write_site_data

ROOT = Path(__file__).resolve().parent.parent
TEST_KEYS = {"SECRET_KEY": "test-secret", "HASH_KEY": "test-hash-key"}


def free_port() -> int:
    """Reserve a free TCP port on 127.0.0.1 and give it back for a server to use."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def migrated_database(path: Path) -> str:
    """Create a database file with every migration applied; returns its URI."""
    uri = f"sqlite:///{path}"
    app = create_app({**TEST_KEYS, "SQLALCHEMY_DATABASE_URI": uri})
    with app.app_context():
        upgrade()
    return uri


def build_site(dest: Path, database_uri: str, data: Path | None = None) -> Path:
    """Build the MkDocs site into `dest` as `make build` does: with the count and list written
    from `database_uri` first, unless `data` names a file to build from (MAILER_SITE_DATA)."""
    if data is None:
        data = dest.parent / "site-data.yml"
        with create_app({**TEST_KEYS, "SQLALCHEMY_DATABASE_URI": database_uri}).app_context():
            write_site_data(data)
    env = {**os.environ, "MAILER_SITE_DATA": str(data)}
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(dest)],
        cwd=ROOT, env=env, check=True,
    )
    return dest


def content_copy(tmp_path: Path) -> Path:
    """A copy of the data files of content/ (the service's words), for a test to edit."""
    copy = tmp_path / "content"
    copy.mkdir()
    for path in (Path(__file__).resolve().parent.parent / "content").glob("*.yml"):
        shutil.copy(path, copy / path.name)
    return copy


def edit(path: Path, old: str, new: str) -> None:
    """Change a data file as staff would, saved at a later time than before."""
    text = path.read_text("utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), "utf-8")
    later = path.stat().st_mtime + 2
    os.utime(path, (later, later))


def finished_copy(site_dir: Path, base: Path) -> Path:
    """A copy of the built site in `base`, finished by `mailer build-site` as `make build` does."""
    shutil.copytree(site_dir, base / "new")
    finish_site(base / "new", base / "site")
    return base / "site"


@pytest.fixture(scope="session")
def site_dir(tmp_path_factory) -> Path:
    """The site built once per test session from a fresh database (so the counter reads 25)."""
    base = tmp_path_factory.mktemp("built")
    return build_site(base / "site", migrated_database(base / "build.sqlite"))


class SmtpServer:
    """A real SMTP server on 127.0.0.1 that keeps what it receives, or answers with `reply`."""

    def __init__(self):
        self.port = free_port()
        self.received: list = []  # (envelope, parsed message) in arrival order
        self.reply: str | None = None  # e.g. "451 4.3.0 Probeer later" to refuse the DATA
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        """Keep the message, or refuse it with the configured answer."""
        if self.reply:
            return self.reply
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append((envelope, message))
        return "250 OK"

    @property
    def messages(self) -> list:
        """The parsed messages received so far."""
        return [message for _, message in self.received]

    def start(self):
        """Start listening."""
        self.controller.start()

    def stop(self):
        """Stop listening: the port then refuses connections."""
        self.controller.stop()


@pytest.fixture
def smtp():
    """A running SMTP server; tests may stop and start it to simulate an outage."""
    server = SmtpServer()
    server.start()
    yield server
    try:
        server.stop()
    except (AssertionError, RuntimeError):
        pass  # the test stopped it already


class BufferedClient(FlaskClient):
    """A test client that reads and closes every response, so served files are never left open."""

    def open(self, *args, **kwargs):
        """Open a request with the whole response read at once."""
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


@pytest.fixture
def make_app(tmp_path, site_dir, smtp):
    """A maker of the app on this test's migrated database file, sending to the test SMTP server.

    Keyword arguments override settings, as `MAILER_*` variables would: `make_app(MAIL_PORT=1)`.
    """
    database = migrated_database(tmp_path / "mailer.sqlite")

    def make(**overrides):
        app = create_app({
            **TEST_KEYS,
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database,
            "SITE_DIR": str(site_dir),
            "SITE_URL": "https://schuldeiserscoalitie.test",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": smtp.port,
            "MAIL_TIMEOUT": 5,
            "MAIL_SUPPRESS_SEND": False,
            **overrides,
        })
        app.test_client_class = BufferedClient
        return app

    return make


@pytest.fixture
def app(make_app):
    """The app with the test settings."""
    return make_app()


@pytest.fixture
def client(app):
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A runner for the app's `mailer` commands."""
    return app.test_cli_runner()


def run_concurrently(target, count: int) -> None:
    """Call `target(number)` for 0 .. count-1, each in its own thread, all at once."""
    threads = [threading.Thread(target=target, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "geen CSRF-token op de pagina"
    return match.group(1)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def require_installed(found, package: str, message: str = "") -> None:
    """Skip the test where a system program is missing on a laptop; under CI (`CI` set), fail."""
    if not found:
        message = message or f"{package} ontbreekt: installeer het Debian-pakket {package}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    """One headless system Chromium for the session; missing, it skips locally and fails in CI."""
    require_installed(Path(CHROMIUM).exists(), "chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser tab; fails the test on any script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == []


@pytest.fixture
def live(app):
    """The real app (site and service on one origin) on 127.0.0.1, served from a thread.

    The forms' minimum fill time is off: a browser driven by a test fills a form at once.
    """
    app.config.update(INVITE_MIN_SECONDS=0, JOIN_MIN_FILL_SECONDS=0)
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


def axe_violations(page) -> list[dict]:
    """Inject axe-core into the page as it is and run all its default rules."""
    import axe_core_python

    script = Path(axe_core_python.__file__).parent / "axe.min.js"
    # Evaluated through DevTools, which the page's CSP does not govern (it refuses inline tags).
    page.evaluate(script.read_text(encoding="utf-8"))
    return json.loads(page.evaluate(
        "async () => JSON.stringify((await axe.run(document)).violations)"))


def describe_violations(violations: list[dict]) -> str:
    """Axe violations as readable lines: rule, impact, help, and the offending elements."""
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            summary = node.get("failureSummary", "").strip().replace("\n", " ")
            lines.append(f"    {node['target']}: {summary}")
    return "\n".join(lines)
