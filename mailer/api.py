"""The public JSON API: the adoption count, open to other sites."""

from flask import Blueprint, jsonify, request

from .adoptions.registry import adoption_count

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/adoptions/count")
def count():
    """The number of companies that adopted the policy, cacheable and open to every origin."""
    data = adoption_count()
    updated = data["updated"].isoformat(timespec="seconds") + "Z"
    response = jsonify(count=data["count"], updated=updated)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = (
        "public, max-age=60, stale-while-revalidate=120, stale-if-error=300"
    )
    response.add_etag()
    return response.make_conditional(request)
