"""The built site as the service serves it (`make run`): WhiteNoise in front of the Flask views.

A finished build (`mailer build-site`) with traps planted in it: links out of the site, a link
loop, a named pipe. Hostile paths go through the test client and through a real gunicorn.
"""

import gzip
import http.client
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import brotli
import pytest
from conftest import ROOT, TEST_KEYS, finished_copy, free_port, migrated_database

from mailer import create_app
from mailer.build import swap_in

SECRET = "GEHEIM buiten de site"

HOSTILE_PATHS = [
    "/../pyproject.toml",
    "/%2e%2e/pyproject.toml",
    "/..%2fpyproject.toml",
    "/assets/..%2f..%2fpyproject.toml",
    "/assets/%2e%2e/%2e%2e/outside/geheim.txt",
    "/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/..\\pyproject.toml",
    "/%5c..%5cpyproject.toml",
    "/./index.html",
    "//etc/passwd",
    "/index.html%00",
    "/%00",
    "/a%00b/",
    "/index.html/",
    "/%ff%fe/",
    "/" + "a" * 300,            # longer than a file name may be
    "/" + "a/" * 1500,          # deeper than a path may be
    "/link-out.txt",            # a link to a file outside the site
    "/link-out/geheim.txt",     # through a link to a folder outside the site
    "/link-out/",
    "/link-in.html",            # links are not followed at all, not even inside
    "/assets/loop/loop/loop/index.html",
    "/pipe",                    # a named pipe, not a file
    "/assets/",                 # a folder without an index page
    "/assets/javascripts/counter.js.gz",  # compressed copies are chosen by Accept-Encoding
]


@pytest.fixture(scope="module")
def site(site_dir, tmp_path_factory) -> Path:
    """A finished build, with links out, a link loop and a named pipe planted in it."""
    base = tmp_path_factory.mktemp("static")
    site = finished_copy(site_dir, base)
    (base / "outside").mkdir()
    (base / "outside" / "geheim.txt").write_text(SECRET)
    (site / "link-out.txt").symlink_to(base / "outside" / "geheim.txt")
    (site / "link-out").symlink_to(base / "outside")
    (site / "link-in.html").symlink_to(site / "index.html")
    (site / "assets" / "loop").symlink_to(site / "assets")
    os.mkfifo(site / "pipe")
    return site


def make_app(site: Path, database: str):
    """The app serving `site`."""
    return create_app({**TEST_KEYS, "TESTING": True, "SQLALCHEMY_DATABASE_URI": database,
                       "SITE_DIR": str(site)})


@pytest.fixture(scope="module")
def static_client(site, tmp_path_factory):
    """A test client of the app serving the planted site."""
    database = migrated_database(tmp_path_factory.mktemp("db") / "mailer.sqlite")
    return make_app(site, database).test_client()


def get(client, path: str, **headers):
    """GET `path` as sent, read in full."""
    return client.get(path, headers=headers, buffered=True)


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_hostile_paths_get_the_sites_404(static_client, site, path):
    response = get(static_client, path)
    assert response.status_code == 404, path
    assert response.get_data() == (site / "404.html").read_bytes()
    assert "Content-Security-Policy" in response.headers


def test_a_folder_outside_the_site_looks_like_any_missing_one(static_client, site):
    """Whether /etc exists (or the folder beside the site) cannot be told from the answer."""
    pairs = [("/../../../../etc/", "/../../../../bestaat-niet/"),
             ("/%2e%2e/outside/", "/%2e%2e/nergens/"),
             ("/..%2foutside%2fgeheim.txt", "/..%2foutside%2fniets.txt")]
    for existing, missing in pairs:
        one, other = get(static_client, existing), get(static_client, missing)
        assert (one.status_code, one.get_data()) == (other.status_code, other.get_data())


@pytest.fixture(scope="module")
def gunicorn(site, tmp_path_factory):
    """The app under a real gunicorn, as `mailer serve` runs it; its origin."""
    database = migrated_database(tmp_path_factory.mktemp("db") / "mailer.sqlite")
    env = {**os.environ, "MAILER_SQLALCHEMY_DATABASE_URI": database, "MAILER_SITE_DIR": str(site),
           "MAILER_SECRET_KEY": TEST_KEYS["SECRET_KEY"], "MAILER_HASH_KEY": TEST_KEYS["HASH_KEY"]}
    port = free_port()
    log = tmp_path_factory.mktemp("log") / "access.log"
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config",
                               str(ROOT / "deploy/gunicorn.conf.py"), "--bind",
                               f"127.0.0.1:{port}", "--workers", "1", "--access-logfile",
                               str(log), "mailer.wsgi:app"],
                              cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while raw_get(port, "/")[0] != 200:
        assert time.monotonic() < deadline, "gunicorn start niet"
        time.sleep(0.2)
    yield port, log
    server.terminate()
    server.wait(timeout=30)


def raw_get(port: int, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """GET `path` exactly as written from 127.0.0.1:`port`; status 0 if nothing listens."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    except ConnectionRefusedError:
        return 0, {}, b""
    finally:
        connection.close()


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_hostile_paths_through_gunicorn(gunicorn, site, path):
    status, _, body = raw_get(gunicorn[0], path)
    assert status == 404, path
    assert body == (site / "404.html").read_bytes()


def test_pages_are_revalidated_and_hashed_assets_cached_for_good(static_client, site):
    page = get(static_client, "/incassobeleid/")
    assert page.headers["Cache-Control"] == "no-cache"
    assert page.headers["ETag"] and page.headers["Last-Modified"]
    again = get(static_client, "/incassobeleid/", **{"If-None-Match": page.headers["ETag"]})
    assert again.status_code == 304
    bundle = next(site.glob("assets/javascripts/bundle.*.min.js")).relative_to(site).as_posix()
    assert "immutable" in get(static_client, "/" + bundle).headers["Cache-Control"]
    for path in ("/assets/javascripts/counter.js", "/assets/stylesheets/extra.css",
                 "/search/search_index.json", "/sitemap.xml", "/"):
        response = get(static_client, path)
        assert response.status_code == 200, path
        assert "immutable" not in response.headers["Cache-Control"], path
    own = get(static_client, "/assets/stylesheets/extra.css").headers["Cache-Control"]
    assert own == "public, max-age=300"


@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_compressed_copies_made_at_build_are_sent(static_client, site, encoding):
    response = get(static_client, "/", **{"Accept-Encoding": encoding})
    assert response.headers["Content-Encoding"] == encoding
    assert response.headers["Vary"] == "Accept-Encoding"
    plain = brotli.decompress if encoding == "br" else gzip.decompress
    assert plain(response.get_data()) == (site / "index.html").read_bytes()


@pytest.mark.parametrize("path", ["/tip-een-collega/", "/meedoen/"])
def test_the_forms_view_wins_over_its_built_page(static_client, path):
    response = get(static_client, path, **{"Accept-Encoding": "br, gzip"})
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers  # not the compressed built page
    assert 'name="csrf_token"' in response.get_data(as_text=True)


def test_unknown_page_is_the_sites_own_404(static_client, site):
    response = get(static_client, "/bestaat-niet/")
    assert response.status_code == 404
    assert response.get_data() == (site / "404.html").read_bytes()


def test_a_new_build_swapped_in_is_served_at_once(site_dir, tmp_path):
    """The worker will rebuild and swap the site: the running app serves the new files."""
    shutil.copytree(site_dir, tmp_path / "site")
    client = make_app(tmp_path / "site", migrated_database(tmp_path / "db.sqlite")).test_client()
    assert get(client, "/nieuw.txt").status_code == 404
    shutil.copytree(site_dir, tmp_path / "new")
    (tmp_path / "new" / "nieuw.txt").write_text("nieuwe build")
    (tmp_path / "new" / "contact" / "index.html").unlink()
    swap_in(tmp_path / "new", tmp_path / "site")
    assert get(client, "/nieuw.txt").get_data() == b"nieuwe build"
    assert get(client, "/contact/").status_code == 404
    assert not (tmp_path / "new").exists()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []


def test_gunicorn_keeps_tokens_out_of_its_access_log(gunicorn):
    port, log = gunicorn
    tokens = ["Tok3nVanBevestiging.abc", "Tok3nVanAfmelding.def", "Tok3nInReferer.ghi"]
    referer = f"http://127.0.0.1:{port}/meedoen/bevestigen/{tokens[2]}"
    raw_get(port, f"/meedoen/bevestigen/{tokens[0]}?x=1", {"Referer": referer})
    raw_get(port, f"/tip-een-collega/afmelden/{tokens[1]}", {"Referer": referer})
    raw_get(port, f"/meedoen%2Fbevestigen/{tokens[0]}")
    raw_get(port, "/assets/javascripts/counter.js?einde", {"Referer": referer})
    deadline = time.monotonic() + 10
    while "?einde" not in log.read_text():  # written just after each answer
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    text = log.read_text()
    assert "/meedoen/bevestigen/***" in text and "/tip-een-collega/afmelden/***" in text
    for token in tokens:
        assert token not in text


def test_build_site_command_finishes_a_build_and_puts_it_in_place(site_dir, tmp_path):
    """`mailer build-site NEW`: compressed copies, the nginx snippet, then NEW becomes the site."""
    from mailer.build import build_site
    from mailer.site import security_headers

    shutil.copytree(site_dir, tmp_path / "site")
    shutil.copytree(site_dir, tmp_path / "site.new")
    (tmp_path / "site.new" / "nieuw.txt").write_text("nieuwe build " * 20)
    app = make_app(tmp_path / "site", migrated_database(tmp_path / "db.sqlite"))
    result = app.test_cli_runner().invoke(build_site, [str(tmp_path / "site.new")])
    assert result.exit_code == 0, result.output
    site = tmp_path / "site"
    assert (site / "nieuw.txt").exists() and not (tmp_path / "site.new").exists()
    for name in ("index.html", "nieuw.txt", "search/search_index.json"):
        assert gzip.decompress((site / f"{name}.gz").read_bytes()) == (site / name).read_bytes()
        assert brotli.decompress((site / f"{name}.br").read_bytes()) == (site / name).read_bytes()
    snippet = (tmp_path / "security-headers.conf").read_text()
    policy = security_headers(site)["Content-Security-Policy"]
    assert f'add_header Content-Security-Policy "{policy}" always;' in snippet
    assert "proxy_hide_header Content-Security-Policy;" in snippet


def test_inline_scripts_that_run_are_hashed_and_others_not(tmp_path):
    import base64
    import hashlib

    from mailer.build import inline_script_hashes

    def source(code: str) -> str:
        return "sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()

    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "index.html").write_text(
        '<script>var a = "é";</script><SCRIPT type="module">import "/x.js"</SCRIPT>'
        '<script type="application/json">{"base": ".."}</script>'
        '<script src="/y.js"></script><script type="text/javascript">\n b() </script>',
        encoding="utf-8")
    expected = sorted(source(code) for code in ('var a = "é";', 'import "/x.js"', "\n b() "))
    assert inline_script_hashes(tmp_path) == expected


def test_make_run_keeps_tokens_out_of_its_access_log(site, tmp_path):
    """`mailer serve`, as the Makefile's `run` starts it (with deploy/gunicorn.conf.py)."""
    port = free_port()
    env = {**os.environ, "MAILER_SITE_DIR": str(site),
           "MAILER_SQLALCHEMY_DATABASE_URI": migrated_database(tmp_path / "mailer.sqlite"),
           "MAILER_SECRET_KEY": TEST_KEYS["SECRET_KEY"], "MAILER_HASH_KEY": TEST_KEYS["HASH_KEY"]}
    mailer = Path(sys.executable).with_name("mailer")
    with open(tmp_path / "out.log", "w") as out:
        server = subprocess.Popen([mailer, "serve", "--port", str(port), "--workers", "1"],
                                  cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while raw_get(port, "/")[0] != 200:
            assert time.monotonic() < deadline, "mailer serve start niet"
            time.sleep(0.2)
        raw_get(port, "/meedoen/bevestigen/Tok3nVanMakeRun.abc")
        while "bevestigen/" not in (tmp_path / "out.log").read_text():
            assert time.monotonic() < deadline, (tmp_path / "out.log").read_text()
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=30)
    log = (tmp_path / "out.log").read_text()
    assert "/meedoen/bevestigen/***" in log
    assert "Tok3nVanMakeRun" not in log
