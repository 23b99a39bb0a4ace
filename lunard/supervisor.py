"""The supervisor: the root nursery that starts every actor and stops them in order.

Start order (each with `nursery.start`, so the next starts only once the previous is
ready): sink (which first replays the journal) -> journal -> pool -> state-events (only
with `state_url`: LISTEN/NOTIFY cache eviction and the database's readiness) ->
scheduler -> housekeeper -> http. Once HTTP listens it tells systemd `READY=1` and writes
the URL to the `--ready-fd` pipe, if any.

A graceful stop (SIGTERM/SIGINT, or `shutdown` set by the caller) runs in three steps:
1. drain behind a proxy: `Readiness.draining` is set at once, so `/readyz` answers 503
   `{"status": "draining"}` and every response carries `Connection: close`; systemd hears
   `STOPPING=1`; requests are served normally for `drain_delay` seconds so a load
   balancer's health check takes the node out and its keep-alive connections end (a second
   signal ends this wait early);
2. the listener closes and in-flight requests get up to `shutdown_grace` seconds;
3. pool, scheduler and housekeeper are cancelled, the journal writes what is left and sees it
   committed, and last the sink stops, whose `finally` writes everything.

SIGHUP does not stop the daemon: it is logged at INFO and otherwise ignored (logs go to
stderr, so there is no file to reopen, and the configuration is read once at start; restart
to apply a new one). An actor that crashes stops the daemon; `stop_status` turns what
`trio.run` raised into an exit code and readable messages (0 for a stop by signal, 1 for a
failure, 3 for `WorkerBootError`) so systemd restarts it.
"""

from __future__ import annotations

import dataclasses
import gc
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
from lunard.errors import LunardError
from lunard.housekeeper import Housekeeper
from lunard.http.app import create_app
from lunard.http.deps import AppDeps, Readiness
from lunard.http.device_auth import DeviceAuthStore
from lunard.http.server import HttpServer
from lunard.listener import open_listener
from lunard.messages import RecordWrite
from lunard.pool import Pool
from lunard.records.journal import JOURNAL_DIR, Journal
from lunard.records.sink import RECORDS_FILE, Sink, SinkMessage
from lunard.scheduler import Scheduler
from lunard.sdnotify import Notifier, inherited_socket_fd
from lunard.state import StateStore
from lunard.stop_status import ActorCrashed, describe, leaves

log = logging.getLogger(__name__)


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
            found = list(leaves(exc))
            detail = "; ".join(describe(leaf) for leaf in found)
            if all(isinstance(leaf, LunardError) for leaf in found):
                # Meant for the operator; reported once, at the top, by `stop_status`.
                raise ActorCrashed(f"actor {name} stopped: {detail}") from exc
            log.exception("actor %s crashed", name)
            raise ActorCrashed(f"actor {name} crashed: {detail}") from exc

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


@dataclass
class _Stopping:
    """The stages of a graceful stop, as events the supervisor's tasks wait on."""

    requested: trio.Event  # SIGTERM/SIGINT, or the caller's `shutdown`
    hurry: trio.Event = dataclasses.field(default_factory=trio.Event)  # a second signal
    close_listener: trio.Event = dataclasses.field(default_factory=trio.Event)  # delay over


async def _watch_signals(stopping: _Stopping) -> None:
    """Owns SIGTERM, SIGINT and SIGHUP for the daemon's whole life.

    The first SIGTERM/SIGINT requests a graceful stop, a second one cuts the drain delay
    short; SIGHUP is logged at INFO and changes nothing (no log file to reopen, the
    configuration is read once)."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        async for signum in signals:
            name = signal.Signals(signum).name
            if signum == signal.SIGHUP:
                log.info("SIGHUP received: ignored (logs go to stderr; restart to reconfigure)")
            elif not stopping.requested.is_set():
                log.info("Shutdown signal received (%s)", name)
                stopping.requested.set()
            else:
                log.info("Second shutdown signal (%s): closing the listener now", name)
                stopping.hurry.set()


async def _drain(
    stopping: _Stopping, readiness: Readiness, notifier: Notifier, delay: float
) -> None:
    """Step 1 of a graceful stop: not ready, Connection: close, still serving for `delay`."""
    await stopping.requested.wait()
    readiness.draining = True
    await notifier.send("STOPPING=1")
    log.info(
        "Draining: /readyz answers 503 and responses carry Connection: close; "
        "closing the listener in %ss",
        delay,
    )
    with trio.move_on_after(delay):
        await stopping.hurry.wait()
    stopping.close_listener.set()


async def _announce_ready(
    nursery: trio.Nursery, notifier: Notifier, ready_fd: int | None, url: str
) -> None:
    """Tell systemd `READY=1` (and start the watchdog), then the `--ready-fd` pipe: the URL
    and a newline, after which the pipe is closed."""
    await notifier.send("READY=1")
    nursery.start_soon(notifier.watchdog)
    if ready_fd is None:
        return
    try:
        os.write(ready_fd, f"{url}\n".encode())
    except OSError as exc:
        log.warning("cannot write to --ready-fd %d: %s", ready_fd, exc.strerror)
    finally:
        os.close(ready_fd)


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
    sink: trio.MemorySendChannel[SinkMessage]
    done: trio.Event


async def _start_records(
    nursery: trio.Nursery, readiness: Readiness, config: Config, data_dir: Path
) -> _Records:
    """Start the sink (which replays the journal first) and the journal in front of it;
    with `records_url`, the PostgreSQL sink alone (its commit is the call's durability)."""
    if config.records_url:
        return await _start_pg_records(nursery, readiness, config)
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


async def _start_state_events(
    nursery: trio.Nursery,
    readiness: Readiness,
    config: Config,
    state: StateStore,
    scheduler: Scheduler,
) -> None:
    """On PostgreSQL state: the listener that keeps `/fn`'s cache true and tells the
    scheduler of other nodes' changes; listening before the scheduler loads its schedules."""
    from lunard.state.events import StateEvents  # imports psycopg: only with state_url
    from lunard.state.pg_store import PostgresStore

    assert isinstance(state, PostgresStore)
    events = StateEvents(
        store=state, readiness=readiness, scheduler=scheduler.inbox, node=config.node_name
    )
    await _start(nursery, readiness, "state-events", events.run)


async def _start_pg_records(
    nursery: trio.Nursery, readiness: Readiness, config: Config
) -> _Records:
    """The PostgreSQL sink, no journal: the pool's `RecordWrite` goes straight to it and is
    released once its record is committed ("committed" consistency, scale-out §4.2)."""
    from lunard.records.pg_sink import PgSink  # only a cluster node loads psycopg for it

    sink = PgSink(url=config.records_url, batch_rows=config.sink_batch_rows)
    done = trio.Event()
    await _start(nursery, readiness, "sink", _setting_when_done(sink.run, done))
    return _Records(writes=sink.inbox, sink=sink.inbox, done=done)


async def _start_lake_exporter(nursery: trio.Nursery, readiness: Readiness, config: Config) -> None:
    """With `lake_url`: the exporter of sealed record slices to the lake (every node runs
    one; the claims pick one node per slice)."""
    from lunard.records import lake
    from lunard.records.lake_export import Exporter, seal_delay  # imports psycopg

    exporter = Exporter(
        lake_dir=lake.lake_dir(config.lake_url),
        state_url=config.state_url,
        records_url=config.records_url,
        node=config.node_name,
        interval=config.lake_export_interval,
        seal=seal_delay(config.timeout_seconds, config.sink_flush_interval),
        memory_mb=config.records_memory_mb,
        threads=config.records_threads,
    )
    await _start(nursery, readiness, "lake-exporter", exporter.run)


async def _start_execution(
    nursery: trio.Nursery,
    readiness: Readiness,
    config: Config,
    state: StateStore,
    records: _Records,
    runtime_dir: Path,
) -> tuple[Pool, Scheduler]:
    """The pool, the scheduler (after the state-events listener, with `state_url`), the
    housekeeper and, with `lake_url`, the lake exporter."""
    pool = Pool(
        workers=config.workers,
        queue_size=config.queue_size,
        runtime_dir=runtime_dir,
        state_path=state.location,
        worker_address_space_mb=config.worker_address_space_mb,
        records=records.writes,
        function_max_workers=config.function_max_workers,
        readiness=readiness,
    )
    await _start(nursery, readiness, "pool", pool.run)
    scheduler = Scheduler(config=config, state=state, pool=pool.inbox)
    if config.state_url:
        await _start_state_events(nursery, readiness, config, state, scheduler)
    await _start(nursery, readiness, "scheduler", scheduler.run)
    housekeeper = Housekeeper(state=state, sink=records.sink)
    await _start(nursery, readiness, "housekeeper", housekeeper.run)
    if config.lake_url:
        await _start_lake_exporter(nursery, readiness, config)
    return pool, scheduler


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
    stopping: _Stopping,
    notifier: Notifier,
    ready_fd: int | None,
    task_status: trio.TaskStatus[str],
) -> None:
    """Start pool, scheduler, housekeeper and http; return once HTTP has drained."""
    pool, scheduler = await _start_execution(
        nursery, readiness, config, state, records, runtime_dir
    )
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
    server = HttpServer(
        app=create_app(app_deps), config=config, shutdown=stopping.close_listener, fd=listen_fd
    )
    http_done = trio.Event()
    url = await _start(nursery, readiness, "http", _setting_when_done(server.run, http_done))
    log.info(
        "lunard ready url=%s data_dir=%s execution_timeout=%ss workers=%d durability=%s",
        url,
        config.data_dir.resolve(),
        config.timeout_seconds,
        config.workers,
        config.durability,
    )
    # What exists now (modules, the app, the actors) lives as long as the daemon: frozen out
    # of the collector's sight, a full collection walks only what calls leave behind
    # (~40 ms per pass over the startup heap otherwise; measured under 16 connections:
    # p99 -10 to -20 %, req/s +3 to +7 %). Garbage is collected first, not frozen with it.
    gc.collect()
    gc.freeze()
    await _announce_ready(nursery, notifier, ready_fd, url)
    task_status.started(url)
    await http_done.wait()


async def _run_actors(
    config: Config,
    *,
    environ: Mapping[str, str],
    stopping: _Stopping,
    readiness: Readiness,
    notifier: Notifier,
    ready_fd: int | None,
    task_status: trio.TaskStatus[str],
) -> None:
    """Open the data dir, state and listener, run every actor, stop them in order."""
    data_dir = prepare_data_dir(config.data_dir)
    api_key = resolve_api_key(data_dir, config.api_key)
    with ExitStack() as stack:
        state = StateStore.open(
            data_dir,
            config.state_url,
            pool_size=config.state_pool_size,
            cache_ttl=config.state_cache_ttl,
        )
        stack.callback(state.close)
        runtime_dir = _runtime_dir(config, environ, stack)
        listen_fd = inherited_socket_fd(environ)
        if listen_fd is None:
            listen_fd, port = open_listener(config.host, config.port, stack)
            config = dataclasses.replace(config, port=port)
        async with trio.open_nursery() as records_nursery:
            records = await _start_records(records_nursery, readiness, config, data_dir)
            async with trio.open_nursery() as nursery:
                await _serve(
                    nursery,
                    readiness,
                    config=config,
                    state=state,
                    api_key=api_key,
                    runtime_dir=runtime_dir,
                    records=records,
                    listen_fd=listen_fd,
                    stopping=stopping,
                    notifier=notifier,
                    ready_fd=ready_fd,
                    task_status=task_status,
                )
                log.info("HTTP drained; stopping actors")
                nursery.cancel_scope.cancel()
            # Every producer of records has stopped: let the journal write what is left and
            # see it committed, then stop the sink (its `finally` writes everything).
            records.writes.close()
            await records.done.wait()
            records_nursery.cancel_scope.cancel()


async def run_daemon(
    config: Config,
    *,
    environ: Mapping[str, str] | None = None,
    shutdown: trio.Event | None = None,
    handle_signals: bool = True,
    ready_fd: int | None = None,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run lunard until `shutdown` is set or a signal arrives; reports the bound URL.

    Once ready, the URL and a newline are written to `ready_fd` (then closed), if given."""
    stopping = _Stopping(requested=trio.Event() if shutdown is None else shutdown)
    readiness = Readiness()
    environ = os.environ if environ is None else environ
    notifier = Notifier(environ)
    async with trio.open_nursery() as lifecycle:
        if handle_signals:  # for the whole life, so a SIGHUP never kills the daemon
            lifecycle.start_soon(_watch_signals, stopping)
        lifecycle.start_soon(_drain, stopping, readiness, notifier, config.drain_delay)
        await _run_actors(
            config,
            environ=environ,
            stopping=stopping,
            readiness=readiness,
            notifier=notifier,
            ready_fd=ready_fd,
            task_status=task_status,
        )
        lifecycle.cancel_scope.cancel()
    log.info("Server stopped gracefully")
