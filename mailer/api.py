"""The public JSON API: the adoption count and the public list, open to other sites."""

from flask import Blueprint, jsonify, request

from .adoptions.registry import adoption_count, iso_time, public_adopters
from .extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api")
# Read-only and without cookies: nothing here a forged request could change.
csrf.exempt(bp)

CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=120, stale-if-error=300"


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


def _public(response):
    """Make a JSON answer cacheable by anyone (with an ETag for 304s) and readable from any site."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.add_etag()
    return response.make_conditional(request)


_IF_NONE_MATCH = [{"name": "If-None-Match", "in": "header", "required": False,
                   "schema": {"type": "string"}}]
_NOT_MODIFIED = {"description": "Niet gewijzigd sinds de ETag in If-None-Match."}
_HEADERS = {
    "ETag": {"schema": {"type": "string"}},
    "Cache-Control": {"schema": {"type": "string", "const": CACHE_CONTROL}},
    "Access-Control-Allow-Origin": {"schema": {"type": "string", "const": "*"}},
}

OPENAPI = {
    "openapi": "3.1.0",
    "info": {
        "title": "Schuldeiserscoalitie: ondernemingen met een sociaal incassobeleid",
        "version": "1.0.0",
        "description": (
            "Het aantal ondernemingen dat het sociaal incassobeleid heeft ingevoerd, en de "
            "ondernemingen die op de openbare lijst willen staan. Open voor elke website (CORS)."
        ),
    },
    "paths": {
        "/api/adoptions/count": {
            "get": {
                "operationId": "getAdoptionCount",
                "summary": "Het aantal ondernemingen met een sociaal incassobeleid",
                "description": (
                    "Goedgekeurde aanmeldingen plus de ondernemingen die meededen vóór het "
                    "online register. Kan tot een minuut oud zijn (max-age=60)."
                ),
                "parameters": _IF_NONE_MATCH,
                "responses": {
                    "200": {
                        "description": "Het aantal en wanneer het voor het laatst veranderde.",
                        "headers": _HEADERS,
                        "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/AdoptionCount"},
                            "example": {"count": 25, "updated": "2026-11-23T12:00:00Z"},
                        }},
                    },
                    "304": _NOT_MODIFIED,
                },
            }
        },
        "/api/adoptions": {
            "get": {
                "operationId": "listAdopters",
                "summary": "De ondernemingen op de openbare lijst",
                "description": "Alleen ondernemingen die toestemming gaven; nieuwste eerst.",
                "parameters": _IF_NONE_MATCH,
                "responses": {
                    "200": {
                        "description": "De openbare lijst.",
                        "headers": _HEADERS,
                        "content": {"application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["adopters"],
                                "properties": {"adopters": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Adopter"},
                                }},
                            },
                        }},
                    },
                    "304": _NOT_MODIFIED,
                },
            }
        },
    },
    "components": {
        "schemas": {
            "AdoptionCount": {
                "type": "object",
                "required": ["count", "updated"],
                "properties": {
                    "count": {"type": "integer", "minimum": 0},
                    "updated": {"type": "string", "format": "date-time"},
                },
            },
            "Adopter": {
                "type": "object",
                "required": ["name", "sector", "website", "date", "slug"],
                "properties": {
                    "name": {"type": "string"},
                    "sector": {"type": "string", "description": "De sector, in het Nederlands."},
                    "website": {"type": ["string", "null"], "format": "uri"},
                    "date": {"type": ["string", "null"], "format": "date",
                             "description": "De dag van goedkeuring."},
                    "slug": {"type": "string",
                             "description": "Het anker op /deelnemers/ en het pad van de badge."},
                },
            },
        }
    },
}
