"""Routes: (to be written)."""

from quart import Blueprint

bp = Blueprint("auth_routes", __name__)
