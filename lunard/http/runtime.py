"""Routes: (to be written)."""

from quart import Blueprint

bp = Blueprint("runtime", __name__)
