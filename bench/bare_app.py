"""The ceiling of our HTTP stack: a bare quart-trio app on hypercorn returning "hello"."""

from __future__ import annotations

import sys

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from quart_trio import QuartTrio

app = QuartTrio(__name__)


@app.get("/")
async def hello() -> str:
    return "hello"


def main() -> None:
    config = Config()
    config.bind = [f"127.0.0.1:{sys.argv[1]}"]
    config.accesslog = None
    trio.run(serve, app, config)


if __name__ == "__main__":
    main()
