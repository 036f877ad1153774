"""The service serves the built site on its own origin, and the counter API."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, free_port, migrated_database
from itsdangerous import BadSignature


@pytest.mark.parametrize("path", ["/", "/incassobeleid/", "/warm-doorverwijzen/", "/contact/"])
def test_built_pages_are_served(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert b"Schuldeiserscoalitie" in response.data
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]


def test_folder_without_slash_redirects(client):
    response = client.get("/incassobeleid?x=1")
    assert response.status_code == 308
    assert response.headers["Location"].endswith("/incassobeleid/?x=1")


@pytest.mark.parametrize("path", ["/bestaat-niet/", "/../pyproject.toml", "/%2e%2e/pyproject.toml"])
def test_unknown_or_escaping_paths_are_not_found(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert b"[project]" not in response.data


def test_count_starts_at_the_number_from_before_the_registry(client):
    response = client.get("/api/adoptions/count")
    assert response.status_code == 200
    assert response.json["count"] == 25
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_staff_change_the_number_from_before_the_registry(client, runner):
    result = runner.invoke(args=["adoptions", "before-registry", "31"])
    assert result.exit_code == 0, result.output
    assert "31" in result.output
    assert client.get("/api/adoptions/count").json["count"] == 31


def test_negative_number_is_refused(runner):
    result = runner.invoke(args=["adoptions", "before-registry", "-3"])
    assert result.exit_code != 0


def test_migrations_match_the_models(runner):
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def test_mailer_command_lists_its_commands():
    mailer = Path(sys.executable).with_name("mailer")
    output = subprocess.run([mailer, "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("serve", "worker", "adoptions", "db"):
        assert f"  {command} " in output


@pytest.mark.parametrize("path", ["/tip-een-collega/verstuurd/", "/meedoen/verstuurd/"])
def test_deeper_dynamic_pages_load_the_theme(client, path):
    """A page one level below its built page still finds every stylesheet, script and link."""
    import re

    html = client.get(path).get_data(as_text=True)
    links = set(re.findall(r'\s(?:href|src)="([^"#][^"]*)"', html))
    local = {link for link in links if not re.match(r"[a-z]+:", link)}
    assert any(link.endswith(".css") for link in local)
    for link in local:
        assert link.startswith("/"), link
        assert client.get(link).status_code == 200, link
    config = re.search(r'"base": "([^"]*)"', html).group(1)
    assert config == "/"


def test_gunicorn_serves_the_app_as_deployed(tmp_path, site_dir):
    """`mailer.wsgi:app` with deploy/gunicorn.conf.py, as `deploy/mailer-web.service` starts it."""
    database = migrated_database(tmp_path / "db.sqlite")
    env = {**os.environ, "MAILER_SQLALCHEMY_DATABASE_URI": database,
           "MAILER_SITE_DIR": str(site_dir), "MAILER_SECRET_KEY": "test",
           "MAILER_HASH_KEY": "test"}
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config",
                               str(ROOT / "deploy/gunicorn.conf.py"), "--bind",
                               f"127.0.0.1:{port}", "--workers", "1", "mailer.wsgi:app"],
                              cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/adoptions/count") as r:
                    assert json.load(r)["count"] == 25
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn start niet"
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/tip-een-collega/") as response:
            assert 'name="csrf_token"' in response.read().decode()  # the service's form
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/incassobeleid/") as response:
            assert response.read() == (site_dir / "incassobeleid" / "index.html").read_bytes()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_gunicorn_listens_on_loopback_only_by_default():
    """Reached only through nginx: the deployed configuration binds no public address."""
    config = {}
    exec((ROOT / "deploy/gunicorn.conf.py").read_text(), config)
    assert config["bind"].startswith("127.0.0.1:")


def test_session_signing_follows_a_new_secret_key_and_its_fallbacks(app):
    interface = app.session_interface
    old_key = app.secret_key
    cookie = interface.get_signing_serializer(app).dumps({"csrf_token": "abc"})
    assert interface.get_signing_serializer(app).loads(cookie) == {"csrf_token": "abc"}
    app.config["SECRET_KEY"] = "een nieuwe sleutel"
    with pytest.raises(BadSignature):
        interface.get_signing_serializer(app).loads(cookie)
    app.config["SECRET_KEY_FALLBACKS"] = [old_key]
    assert interface.get_signing_serializer(app).loads(cookie) == {"csrf_token": "abc"}
