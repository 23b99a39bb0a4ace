"""Routes: (to be written)."""

from quart import Blueprint

bp = Blueprint("executions", __name__)
