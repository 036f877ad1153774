"""Pages of the invitation flow: /tip-een-collega/."""

from flask import Blueprint

bp = Blueprint("invites", __name__)
