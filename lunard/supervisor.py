"""The supervisor: the root nursery that starts every actor and stops them in order.

Start order (each with `nursery.start`, so the next starts only once the previous is
ready): sink (which first replays the journal) -> journal -> pool -> scheduler ->
housekeeper -> http. On SIGTERM/SIGINT it tells systemd `STOPPING=1`, lets the HTTP actor
drain in-flight requests for up to `shutdown_grace` seconds, then cancels pool, scheduler and
housekeeper, lets the journal write what is left and see it committed, and last stops the
sink, whose `finally` writes everything. An actor
that crashes is logged and the daemon exits non-zero so systemd restarts it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import signal
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from lunard.config import Config
from lunard.datadir import prepare_data_dir, resolve_api_key
from lunard.housekeeper import Housekeeper
from lunard.http.app import create_app
from lunard.http.deps import AppDeps, Readiness
from lunard.http.device_auth import DeviceAuthStore
from lunard.http.server import HttpServer
from lunard.listener import open_listener
from lunard.messages import RecordWrite
from lunard.pool import Pool
from lunard.records.journal import JOURNAL_DIR, Journal
from lunard.records.sink import RECORDS_FILE, Sink
from lunard.scheduler import Scheduler
from lunard.sdnotify import Notifier, inherited_socket_fd
from lunard.state import StateStore

log = logging.getLogger(__name__)


class ActorCrashed(Exception):
    """An actor ended with an error; the daemon stops with a non-zero exit code."""


async def _start(
    nursery: trio.Nursery,
    readiness: Readiness,
    name: str,
    run: Callable[..., Awaitable[Any]],
) -> Any:
    """Start actor `name` and mark it ready; a crash is logged with the actor's name."""

    async def supervised(task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            await run(task_status=task_status)
        except trio.Cancelled:
            raise
        except Exception as exc:
            log.exception("actor %s crashed", name)
            raise ActorCrashed(f"actor {name} crashed: {exc}") from exc

    readiness.expected.add(name)
    value = await nursery.start(supervised)
    readiness.started.add(name)
    return value


def _runtime_dir(config: Config, environ: Mapping[str, str], stack: ExitStack) -> Path:
    """Where worker sockets live: the setting, systemd's RUNTIME_DIRECTORY, or a temp dir."""
    if config.runtime_dir is not None:
        config.runtime_dir.mkdir(parents=True, exist_ok=True)
        return config.runtime_dir
    if environ.get("RUNTIME_DIRECTORY"):
        return Path(environ["RUNTIME_DIRECTORY"].split(":")[0])
    path = Path(tempfile.mkdtemp(prefix="lunard-"))
    stack.callback(shutil.rmtree, path, ignore_errors=True)
    return path


async def _watch_signals(shutdown: trio.Event, notifier: Notifier) -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            log.info("Shutdown signal received (%s)", signal.Signals(signum).name)
            break
    await notifier.send("STOPPING=1")
    shutdown.set()


def _setting_when_done(
    run: Callable[..., Awaitable[Any]], done: trio.Event
) -> Callable[..., Awaitable[None]]:
    """`run` as an actor that sets `done` when it ends, however it ends."""

    async def supervised(task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            await run(task_status=task_status)
        finally:
            done.set()

    return supervised


@dataclass
class _Records:
    """The records side as the other actors see it: where to send writes, whom to ask."""

    writes: trio.MemorySendChannel[RecordWrite]
    sink: trio.MemorySendChannel[Any]
    done: trio.Event


async def _start_records(
    nursery: trio.Nursery, readiness: Readiness, config: Config, data_dir: Path
) -> _Records:
    """Start the sink (which replays the journal first) and the journal in front of it."""
    committed, committed_receive = trio.open_memory_channel[int](64)
    journal_dir = data_dir / JOURNAL_DIR
    sink = Sink(
        path=data_dir / RECORDS_FILE,
        batch_rows=config.sink_batch_rows,
        flush_interval=config.sink_flush_interval,
        memory_mb=config.records_memory_mb,
        threads=config.records_threads,
        journal_dir=journal_dir,
        committed=committed,
    )
    await _start(nursery, readiness, "sink", sink.run)
    journal = Journal(
        directory=journal_dir,
        sink=sink.inbox,
        committed=committed_receive,
        durability=config.durability,
    )
    done = trio.Event()
    await _start(nursery, readiness, "journal", _setting_when_done(journal.run, done))
    return _Records(writes=journal.inbox, sink=sink.inbox, done=done)


async def _serve(
    nursery: trio.Nursery,
    readiness: Readiness,
    *,
    config: Config,
    state: StateStore,
    api_key: str,
    runtime_dir: Path,
    records: _Records,
    listen_fd: int,
    shutdown: trio.Event,
    notifier: Notifier,
    task_status: trio.TaskStatus[str],
) -> None:
    """Start pool, scheduler, housekeeper and http; return once HTTP has drained."""
    pool = Pool(
        workers=config.workers,
        queue_size=config.queue_size,
        runtime_dir=runtime_dir,
        state_path=state.path,
        worker_address_space_mb=config.worker_address_space_mb,
        records=records.writes,
        function_max_workers=config.function_max_workers,
    )
    await _start(nursery, readiness, "pool", pool.run)
    scheduler = Scheduler(config=config, state=state, pool=pool.inbox)
    await _start(nursery, readiness, "scheduler", scheduler.run)
    housekeeper = Housekeeper(state=state, sink=records.sink)
    await _start(nursery, readiness, "housekeeper", housekeeper.run)
    app_deps = AppDeps(
        config=config,
        state=state,
        api_key=api_key,
        readiness=readiness,
        device_auth=DeviceAuthStore(),
        pool=pool.inbox,
        sink=records.sink,
        scheduler=scheduler.inbox,
        pool_stats=pool,
    )
    server = HttpServer(app=create_app(app_deps), config=config, shutdown=shutdown, fd=listen_fd)
    http_done = trio.Event()
    url = await _start(nursery, readiness, "http", _setting_when_done(server.run, http_done))
    log.info(
        "lunard ready url=%s data_dir=%s execution_timeout=%ss workers=%d durability=%s",
        url,
        state.path.parent,
        config.timeout_seconds,
        config.workers,
        config.durability,
    )
    await notifier.send("READY=1")
    nursery.start_soon(notifier.watchdog)
    task_status.started(url)
    await http_done.wait()


async def run_daemon(
    config: Config,
    *,
    environ: Mapping[str, str] | None = None,
    shutdown: trio.Event | None = None,
    handle_signals: bool = True,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run lunard until `shutdown` is set or a signal arrives; reports the bound URL."""
    environ = os.environ if environ is None else environ
    shutdown = shutdown or trio.Event()
    data_dir = prepare_data_dir(config.data_dir)
    api_key = resolve_api_key(data_dir, config.api_key)
    notifier = Notifier(environ)
    readiness = Readiness()

    with ExitStack() as stack:
        state = StateStore.open(data_dir)
        stack.callback(state.close)
        runtime_dir = _runtime_dir(config, environ, stack)
        listen_fd = inherited_socket_fd(environ)
        if listen_fd is None:
            listen_fd, port = open_listener(config.host, config.port, stack)
            config = dataclasses.replace(config, port=port)
        async with trio.open_nursery() as records_nursery:
            records = await _start_records(records_nursery, readiness, config, data_dir)
            async with trio.open_nursery() as nursery:
                if handle_signals:
                    nursery.start_soon(_watch_signals, shutdown, notifier)
                await _serve(
                    nursery,
                    readiness,
                    config=config,
                    state=state,
                    api_key=api_key,
                    runtime_dir=runtime_dir,
                    records=records,
                    listen_fd=listen_fd,
                    shutdown=shutdown,
                    notifier=notifier,
                    task_status=task_status,
                )
                log.info("HTTP drained; stopping actors")
                nursery.cancel_scope.cancel()
            # Every producer of records has stopped: let the journal write what is left and
            # see it committed, then stop the sink (its `finally` writes everything).
            records.writes.close()
            await records.done.wait()
            records_nursery.cancel_scope.cancel()
    log.info("Server stopped gracefully")
