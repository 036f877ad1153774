"""The public JSON API: the adoption count and the public list, open to other sites."""

import json
from pathlib import Path

from flask import Blueprint, jsonify, request
from flask.sessions import SecureCookieSessionInterface

from .adoptions.registry import adoption_count, iso_time, public_adopters
from .extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api")
# Read-only and without cookies: nothing here a forged request could change.
csrf.exempt(bp)

CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=120, stale-if-error=300"


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, never saved on a public answer (the API, a badge).

    Those answers are cached by anyone: a cookie (or `Vary: Cookie`) on them would be handed to
    others or defeat the cache. Extensions may still touch the session on every request (the
    staff sign-in does); there that changes nothing.
    """

    def save_session(self, app, session, response):
        """Save the session as Flask does, except on an answer marked `Cache-Control: public`."""
        if not response.cache_control.public:
            super().save_session(app, session, response)


@bp.get("/adoptions/count")
def count():
    """The number of companies that adopted the policy, cacheable and open to every origin."""
    data = adoption_count()
    return _public(jsonify(count=data["count"], updated=iso_time(data["updated"])))


@bp.get("/adoptions")
def adopters():
    """The approved adopters that agreed to be listed, newest first."""
    return _public(jsonify(adopters=public_adopters()))


@bp.get("/openapi.json")
def openapi():
    """An OpenAPI 3.1 description of this API."""
    return _public(jsonify(OPENAPI))


# The description is data, kept beside this module as JSON.
OPENAPI = json.loads((Path(__file__).parent / "openapi.json").read_text(encoding="utf-8"))


def _public(response):
    """Make a JSON answer cacheable by anyone (with an ETag for 304s) and readable from any site."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.add_etag()
    return response.make_conditional(request)
