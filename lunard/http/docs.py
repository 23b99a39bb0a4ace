"""Routes: (to be written)."""

from quart import Blueprint

bp = Blueprint("docs", __name__)
