"""Routes: (to be written)."""

from quart import Blueprint

bp = Blueprint("tokens", __name__)
