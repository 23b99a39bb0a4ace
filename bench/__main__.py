"""`make bench`: every performance target, each measured against its baseline in the same run.

`bench.runtime` (the /fn path against a bare ASGI app), `bench.memory` (RSS idle and under
load), `bench.worker_restart` (a replacement worker's first answer), `bench.json_codec`
(json at LuaJIT speed), `bench.durability` (the journal's cost), `bench.analytics` (sink
ingest and reports).
Each module also runs alone: `python -m bench.<name>`.
"""

from __future__ import annotations

from bench.analytics import analytics_bench
from bench.durability import durability_bench
from bench.json_codec import json_bench
from bench.memory import memory_bench
from bench.runtime import runtime_bench
from bench.worker_restart import restart_bench


def main() -> None:
    for bench in (
        runtime_bench,
        memory_bench,
        restart_bench,
        json_bench,
        durability_bench,
        analytics_bench,
    ):
        print(f"== {bench.__module__}")
        bench()
        print()


if __name__ == "__main__":
    main()
