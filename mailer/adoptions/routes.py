"""Pages of the Join flow: /meedoen/."""

from flask import Blueprint

bp = Blueprint("adoptions", __name__)
