"""Routes: (to be written)."""

from quart import Blueprint

bp = Blueprint("versions", __name__)
