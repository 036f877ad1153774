"""deploy/nginx.conf on the real nginx, in front of gunicorn run with deploy/gunicorn.conf.py.

The configuration is used as it is, with only its paths and ports moved to a temporary folder
and 127.0.0.1 (and its certificate to a self-signed one). nginx runs as the current user.
Every test runs on each nginx named in MAILER_TEST_NGINX (separated by ":"), else on Debian
stable's and unstable's where .ci/nginx unpacked them, else on the one installed. Without nginx
1.25.1 or newer these tests skip on a laptop and fail under CI (`CI=true`).
"""

import gzip
import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, finished_copy, free_port, migrated_database, require_installed

from mailer.site import SECURITY_HEADERS

UNPACKED = [path for path in ("/opt/nginx/stable/nginx", "/opt/nginx/unstable/nginx")
            if Path(path).exists()]
NGINXES = [path for path in os.environ.get("MAILER_TEST_NGINX", "").split(":") if path] or (
    UNPACKED or [shutil.which("nginx") or "/usr/sbin/nginx"])
OLDEST = (1, 25, 1)  # `http2 on;`
CONFIG = ROOT / "deploy" / "nginx.conf"
TOKENS = ("Tok3nVanBevestiging.abc-def_123", "Tok3nVanAfmelding.xyz-uvw_456", "Tok3nInReferer.q")


@pytest.fixture(scope="module", params=NGINXES)
def nginx(request) -> str:
    """Each nginx binary; missing or too old, it skips locally and fails in CI."""
    require_installed(Path(request.param).exists(), "nginx")
    require_installed(version(request.param) >= OLDEST, "nginx",
                      f"{request.param} is ouder dan nginx 1.25.1: pak met .ci/nginx (als root) "
                      "de nginx van Debian stable en unstable uit")
    return request.param


def version(nginx: str) -> tuple[int, ...]:
    """The version `nginx -v` reports, as numbers."""
    reported = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr
    return tuple(int(part) for part in re.search(r"nginx/([\d.]+)", reported).group(1).split("."))


def mime_types(nginx: str) -> Path:
    """The mime.types that comes with `nginx`: beside an unpacked one, else the installed one."""
    unpacked = Path(nginx).parent / "etc/nginx/mime.types"
    return unpacked if unpacked.exists() else Path("/etc/nginx/mime.types")


def templated(config: str, replacements: dict[str, str]) -> str:
    """`config` with each key replaced; a key that is not there fails the test (config changed)."""
    for old, new in replacements.items():
        assert old in config, f"{old!r} staat niet meer in deploy/nginx.conf"
        config = config.replace(old, new)
    return config


def wait_for(port: int) -> None:
    """Wait until something listens on 127.0.0.1:`port`."""
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"niets luistert op poort {port}"
            time.sleep(0.1)


class Stack:
    """nginx in front of gunicorn, both on 127.0.0.1, with their logs in a temporary folder."""

    def __init__(self, base: Path, site: Path, nginx: str):
        self.base, self.site = base, site
        self.https_port, self.http_port, self.app_port = free_port(), free_port(), free_port()
        self.nginx_log = base / "nginx-access.log"
        self.app_log = base / "gunicorn-access.log"
        self.error_log = base / "nginx-error.log"
        self.main_config = base / "nginx-main.conf"
        self._write_config(nginx)
        self.processes: list[subprocess.Popen] = []

    def _write_config(self, nginx: str) -> None:
        base = self.base
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-keyout", base / "key.pem",
                        "-out", base / "cert.pem"], check=True, capture_output=True)
        site_conf = templated(CONFIG.read_text(), {
            "server 127.0.0.1:8000;": f"server 127.0.0.1:{self.app_port};",
            "    listen 80;\n": f"    listen 127.0.0.1:{self.http_port};\n",
            "    listen [::]:80;\n": "",
            "    listen 443 ssl;\n": f"    listen 127.0.0.1:{self.https_port} ssl;\n",
            "    listen [::]:443 ssl;\n": "",
            "/etc/letsencrypt/live/schuldeiserscoalitie.nl/fullchain.pem": str(base / "cert.pem"),
            "/etc/letsencrypt/live/schuldeiserscoalitie.nl/privkey.pem": str(base / "key.pem"),
            "/var/log/nginx/schuldeiserscoalitie.access.log": str(self.nginx_log),
            "/srv/schuldeiserscoalitie/site": str(self.site),
            "/srv/schuldeiserscoalitie/security-headers.conf": str(base / "security-headers.conf"),
        })
        (base / "site.conf").write_text(site_conf)
        temp = "\n".join(f"    {kind}_temp_path {base / kind};"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        # As root (CI), the workers would become `nobody`, who cannot read the pytest folder.
        user = "user root;\n" if os.geteuid() == 0 else ""
        self.main_config.write_text(
            f"{user}worker_processes 1;\npid {base / 'nginx.pid'};\n"
            f"error_log {self.error_log} info;\n"
            "events { worker_connections 64; }\n"
            f"http {{\n    include {mime_types(nginx)};\n"
            "    default_type application/octet-stream;\n"
            f"    access_log {base / 'default-access.log'};\n{temp}\n"
            f"    include {base / 'site.conf'};\n}}\n")

    def check(self, nginx: str) -> subprocess.CompletedProcess:
        """`nginx -t` on the configuration."""
        return subprocess.run([nginx, "-t", "-p", str(self.base), "-c", str(self.main_config)],
                              capture_output=True, text=True)

    def start(self, nginx: str, database: str) -> None:
        """Start gunicorn as deployed and nginx in front of it."""
        env = {**os.environ, "MAILER_SQLALCHEMY_DATABASE_URI": database,
               "MAILER_SITE_DIR": str(self.site), "MAILER_TRUSTED_PROXIES": "1",
               "MAILER_SECRET_KEY": "test-secret",
               "MAILER_HASH_KEY": "test-hash-key"}
        self.processes.append(subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "deploy/gunicorn.conf.py"),
             "--bind", f"127.0.0.1:{self.app_port}", "--workers", "1",
             "--access-logfile", str(self.app_log), "mailer.wsgi:app"], cwd=ROOT, env=env))
        self.processes.append(subprocess.Popen(
            [nginx, "-p", str(self.base), "-c", str(self.main_config), "-g", "daemon off;"]))
        wait_for(self.app_port)
        wait_for(self.https_port)

    def stop(self) -> None:
        """Stop both, nginx first."""
        for process in reversed(self.processes):
            process.terminate()
            process.wait(timeout=30)

    def get(self, path: str, headers: dict | None = None, tls: bool = True):
        """GET `path` through nginx: (status, [(name, value), ...] with every copy, body)."""
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            connection = http.client.HTTPSConnection("127.0.0.1", self.https_port,
                                                     context=context, timeout=30)
        else:
            connection = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=30)
        try:
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


@pytest.fixture(scope="module")
def stack(nginx, site_dir, tmp_path_factory):
    """The built site (finished by `mailer build-site`) behind nginx and gunicorn."""
    base = tmp_path_factory.mktemp("nginx")
    finished_copy(site_dir, base)
    # A link inside the site to a file outside it: nginx must not follow it.
    (base / "outside.txt").write_text("GEHEIM buiten de site")
    (base / "site" / "link.txt").symlink_to(base / "outside.txt")
    stack = Stack(base, base / "site", nginx)
    checked = stack.check(nginx)
    assert checked.returncode == 0, checked.stderr
    stack.start(nginx, migrated_database(base / "mailer.sqlite"))
    yield stack
    stack.stop()


def header_values(headers: list, name: str) -> list[str]:
    """Every value of header `name` (any case) in a raw header list."""
    return [value for key, value in headers if key.lower() == name.lower()]


def hashed_asset(site: Path) -> str:
    """The URL of Material's main script, whose name carries a content hash."""
    path = next(site.glob("assets/javascripts/bundle.*.min.js"))
    return "/" + path.relative_to(site).as_posix()


def test_configuration_passes_nginx_t_without_a_warning(stack, nginx):
    result = stack.check(nginx)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr
    assert "[warn]" not in result.stderr and "[emerg]" not in result.stderr, result.stderr


@pytest.mark.parametrize("path", ["/", "HASHED", "/assets/javascripts/counter.js",
                                  "/tip-een-collega/", "/api/adoptions/count", "/bestaat-niet/"])
def test_security_headers_are_sent_exactly_once(stack, path):
    path = hashed_asset(stack.site) if path == "HASHED" else path
    status, headers, _ = stack.get(path)
    assert status == (404 if path == "/bestaat-niet/" else 200)
    for name in SECURITY_HEADERS:
        assert len(header_values(headers, name)) == 1, (name, headers)
    csp = header_values(headers, "Content-Security-Policy")[0]
    sources = re.search(r"script-src ([^;]*)", csp).group(1).split()
    assert sources[0] == "'self'"
    assert all(source.startswith("'sha256-") for source in sources[1:])  # no 'unsafe-inline'
    assert header_values(headers, "Server") == ["nginx"]  # server_tokens off: no version


def test_the_service_and_nginx_send_the_same_policy(stack):
    """Flask's copy is hidden behind nginx; the two are made from the same build."""
    from mailer.site import security_headers

    _, headers, _ = stack.get("/tip-een-collega/")
    expected = security_headers(stack.site)["Content-Security-Policy"]
    assert header_values(headers, "Content-Security-Policy") == [expected]


def test_only_hashed_names_are_cached_for_good(stack):
    _, headers, _ = stack.get(hashed_asset(stack.site))
    assert "immutable" in header_values(headers, "Cache-Control")[0]
    for path in ("/", "/incassobeleid/", "/assets/javascripts/counter.js",
                 "/assets/stylesheets/extra.css", "/search/search_index.json"):
        status, headers, _ = stack.get(path)
        assert status == 200, path
        cache = header_values(headers, "Cache-Control")
        assert len(cache) == 1 and "immutable" not in cache[0], (path, cache)
        assert header_values(headers, "ETag") and header_values(headers, "Last-Modified"), path
    _, headers, _ = stack.get("/")
    assert header_values(headers, "Cache-Control") == ["no-cache"]
    _, headers, _ = stack.get("/assets/javascripts/counter.js")
    assert header_values(headers, "Cache-Control") == ["public, max-age=300"]


BUILT_FILES = {"/": "index.html", "/assets/stylesheets/extra.css": "assets/stylesheets/extra.css"}


@pytest.mark.parametrize("path", [*BUILT_FILES, "/tip-een-collega/"])
def test_gzip(stack, path):
    """Built files from the .gz the build made; the service's answers compressed on the fly."""
    status, headers, body = stack.get(path, {"Accept-Encoding": "gzip"})
    assert status == 200
    assert header_values(headers, "Content-Encoding") == ["gzip"]
    plain = gzip.decompress(body)
    if path in BUILT_FILES:
        assert plain == (stack.site / BUILT_FILES[path]).read_bytes()
    else:
        assert b'name="csrf_token"' in plain


def test_tokens_never_reach_the_access_logs(stack):
    referer = f"https://schuldeiserscoalitie.nl/tip-een-collega/afmelden/{TOKENS[2]}"
    for path in (f"/meedoen/bevestigen/{TOKENS[0]}", f"/tip-een-collega/afmelden/{TOKENS[1]}",
                 f"/meedoen%2Fbevestigen/{TOKENS[0]}?x=1"):
        status, _, _ = stack.get(path, {"Referer": referer})
        assert status < 500, path
        stack.get("/assets/javascripts/counter.js", {"Referer": referer})
    stack.get(f"/meedoen/bevestigen/{TOKENS[0]}", tls=False)  # the http server logs too
    logs = {}
    deadline = time.monotonic() + 10
    while True:  # gunicorn writes its line just after the answer
        logs = {path.name: path.read_text() for path in (stack.nginx_log, stack.app_log)}
        if "/meedoen/bevestigen/***" in logs[stack.app_log.name]:
            break
        assert time.monotonic() < deadline, logs
        time.sleep(0.1)
    for name, text in logs.items():
        assert "/meedoen/bevestigen/***" in text, name
        assert "/tip-een-collega/afmelden/***" in text, name
        for token in TOKENS:
            assert token not in text, (name, token)


@pytest.mark.parametrize("path", [
    "/link.txt",                    # a link out of the site
    "/../outside.txt",
    "/%2e%2e/outside.txt",
    "/assets/..%2f..%2foutside.txt",
    "/" + "a" * 300,                # a name longer than the file system allows
    "/" + "a/" * 3000,
    "/index.html%00.txt",
    "/assets/%2e%2e/%2e%2e/%2e%2e/etc/hostname",
])
def test_hostile_paths_are_refused_without_error(stack, path):
    status, _, body = stack.get(path)
    assert 400 <= status < 500, (path, status)
    assert b"GEHEIM" not in body


def test_https_offers_http2(stack):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", stack.https_port), timeout=30) as raw, \
            context.wrap_socket(raw) as connection:
        assert connection.selected_alpn_protocol() == "h2"


def test_http_redirects_to_https(stack):
    status, headers, _ = stack.get("/meedoen/?a=1", tls=False)
    assert status == 301
    assert header_values(headers, "Location") == ["https://schuldeiserscoalitie.nl/meedoen/?a=1"]
    assert header_values(headers, "Server") == ["nginx"]
