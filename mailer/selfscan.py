"""The self-scan "Hoe sociaal is uw incassobeleid?" at /zelfscan/: scored by the server, nothing stored."""

from flask import Blueprint

bp = Blueprint("selfscan", __name__)
