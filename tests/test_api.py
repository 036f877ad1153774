"""The public API: count and list, cacheable, open to other origins, described in OpenAPI."""

import json
import sqlite3
from datetime import UTC, datetime

import pytest

CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=120, stale-if-error=300"
CSV = """company_name,kvk,sector,website,list_publicly
Energie Noord,11111111,energie,https://energie-noord.nl,ja
Water Zuid,22222222,water,,nee
"""


def import_csv(runner, tmp_path, text: str = CSV):
    """Import adopters as staff do."""
    path = tmp_path / "import.csv"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(args=["adoptions", "import", str(path)])
    assert result.exit_code == 0, result.output


def add_approved_elsewhere(app, kvk: str) -> None:
    """Approve an adopter the way another process would: straight in the database file."""
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO registration (company_name, kvk, sector, contact_name, contact_email, "
            "adopted_policy, warm_referral, list_publicly, status, created_at, decided_at) "
            "VALUES ('Elders', ?, 'overig', '', '', 1, 0, 0, 'approved', "
            "'2026-11-23 10:00:00', '2026-11-23 10:00:00')", (kvk,))
    connection.close()


@pytest.mark.parametrize("path", ["/api/adoptions/count", "/api/adoptions", "/api/openapi.json"])
def test_cache_and_cors_headers(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == CACHE_CONTROL
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["ETag"]


@pytest.mark.parametrize("path", ["/api/adoptions/count", "/api/adoptions"])
def test_etag_answers_304_until_the_data_changes(client, runner, tmp_path, path):
    first = client.get(path)
    etag = first.headers["ETag"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == CACHE_CONTROL
    assert again.headers["Access-Control-Allow-Origin"] == "*"
    assert client.get(path, headers={"If-None-Match": '"iets-anders"'}).status_code == 200

    import_csv(runner, tmp_path)
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_count_body(client):
    data = client.get("/api/adoptions/count").json
    assert set(data) == {"count", "updated"}
    assert data["count"] == 25
    assert datetime.fromisoformat(data["updated"].replace("Z", "+00:00")).tzinfo is not None


def test_count_after_import_unlist_and_before_registry(client, runner, tmp_path):
    import_csv(runner, tmp_path)
    data = client.get("/api/adoptions/count").json
    assert data["count"] == 27
    assert data["updated"].startswith(datetime.now(UTC).date().isoformat())

    assert runner.invoke(args=["adoptions", "unlist", "11111111"]).exit_code == 0
    assert client.get("/api/adoptions/count").json["count"] == 27
    assert client.get("/api/adoptions").json == {"adopters": []}

    assert runner.invoke(args=["adoptions", "before-registry", "30"]).exit_code == 0
    assert client.get("/api/adoptions/count").json["count"] == 32


def test_list_holds_only_listed_adopters(client, runner, tmp_path):
    import_csv(runner, tmp_path)
    assert client.get("/api/adoptions").json["adopters"] == [{
        "name": "Energie Noord",
        "sector": "Energie",
        "website": "https://energie-noord.nl",
        "slug": "energie-noord",
        "date": datetime.now(UTC).date().isoformat(),
    }]


def test_count_is_derived_from_the_records_on_every_request(app, client):
    assert client.get("/api/adoptions/count").json["count"] == 25
    add_approved_elsewhere(app, "11111111")
    assert client.get("/api/adoptions/count").json["count"] == 26


def test_an_approval_unlisting_and_import_show_at_the_very_next_request(app, client, runner,
                                                                       tmp_path):
    from mailer.extensions import db
    from mailer.models import Registration

    with app.app_context():
        db.session.add(Registration(
            company_name="Wacht Even", kvk="33333333", sector="water", contact_name="A",
            contact_email="a@example.nl", adopted_policy=True, list_publicly=True,
            status="pending"))
        db.session.commit()
    assert client.get("/api/adoptions/count").json["count"] == 25
    assert runner.invoke(args=["adoptions", "approve", "33333333"]).exit_code == 0
    assert client.get("/api/adoptions/count").json["count"] == 26
    assert [a["name"] for a in client.get("/api/adoptions").json["adopters"]] == ["Wacht Even"]
    assert runner.invoke(args=["adoptions", "unlist", "33333333"]).exit_code == 0
    assert client.get("/api/adoptions").json["adopters"] == []
    import_csv(runner, tmp_path)
    assert client.get("/api/adoptions/count").json["count"] == 28


def test_public_answers_set_no_cookie_and_do_not_vary_by_cookie(client, runner, tmp_path):
    """The API and the adopters' badges are cached by anyone: no visitor's cookie on them."""
    import_csv(runner, tmp_path)
    client.get("/tip-een-collega/")  # the form gives this browser a session cookie
    assert client.get_cookie("session") is not None
    for path in ("/api/adoptions/count", "/api/adoptions", "/api/openapi.json",
                 "/deelnemers/energie-noord/badge.svg"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Set-Cookie" not in response.headers, path
        assert "cookie" not in response.headers.get("Vary", "").lower(), path


def test_openapi_describes_both_endpoints(client):
    response = client.get("/api/openapi.json")
    spec = json.loads(response.data)
    assert spec["openapi"].startswith("3.1.")
    assert spec["info"]["title"] and spec["info"]["version"]
    assert set(spec["paths"]) == {"/api/adoptions/count", "/api/adoptions"}
    for path, item in spec["paths"].items():
        operation = item["get"]
        assert {"200", "304"} <= set(operation["responses"]), path
        assert operation["responses"]["200"]["headers"]["Cache-Control"]["schema"]["const"] == (
            CACHE_CONTROL)
    count_schema = spec["components"]["schemas"]["AdoptionCount"]
    assert set(count_schema["required"]) == set(client.get("/api/adoptions/count").json)
    adopter_schema = spec["components"]["schemas"]["Adopter"]
    assert set(adopter_schema["required"]) == {"name", "sector", "website", "date", "slug"}

    # Every $ref points at something that exists.
    def refs(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in refs(spec):
        target = spec
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]


def test_api_paths_do_not_fall_through_to_the_site(client):
    assert client.get("/api/bestaat-niet").status_code == 404
    assert client.post("/api/adoptions/count").status_code in (400, 405)
