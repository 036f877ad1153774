"""The built MkDocs site, served as it is, with the security headers on every response."""

from pathlib import Path

from flask import Blueprint, current_app, redirect, request, send_from_directory

bp = Blueprint("site", __name__)


def init_app(app) -> None:
    """Serve the built site from `app`; registered last, as its catch-all claims every other path."""
    app.register_blueprint(bp)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    # Material writes its configuration and palette in inline scripts and styles.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
}


@bp.after_app_request
def add_security_headers(response):
    """Give every response the same security headers nginx sets in production; a view's own stay."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@bp.app_errorhandler(404)
def not_found(error):
    """Answer an unknown path with the site's own 404 page."""
    path = Path(current_app.config["SITE_DIR"]) / "404.html"
    if path.exists():
        return path.read_text(encoding="utf-8"), 404
    return "Pagina niet gevonden", 404


@bp.get("/", defaults={"path": ""})
@bp.get("/<path:path>")
def static_page(path: str):
    """Serve a file of the built site; a folder answers with its `index.html`."""
    site_dir = Path(current_app.config["SITE_DIR"])
    if path == "" or path.endswith("/"):
        path += "index.html"
    elif (site_dir / path).is_dir():
        query = request.query_string.decode()
        return redirect(request.path + "/" + (f"?{query}" if query else ""), 308)
    # Pages change with every build; Material's assets carry a hash in their names.
    max_age = 0 if path.endswith(".html") else 3600
    return send_from_directory(site_dir, path, max_age=max_age)
