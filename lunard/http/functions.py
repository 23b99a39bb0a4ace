"""Routes: (to be written)."""

from quart import Blueprint

bp = Blueprint("functions", __name__)
