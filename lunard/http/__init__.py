"""The HTTP front end: a quart-trio app served by hypercorn's trio worker."""
