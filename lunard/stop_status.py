"""How a stop is reported: the exit code of `lunard serve` and one readable line per failure.

`trio.run(run_daemon)` raises exception groups; `stop_status` splits them as hypercorn does
its own, so an operator reads the real reason (a DataDirError's advice), not "Exceptions
from Trio nursery (1 sub-exception)".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import trio

from lunard.errors import ConfigError, DataDirError, LunardError, WorkerBootError


class ActorCrashed(Exception):
    """An actor ended with an error; the daemon stops with a non-zero exit code.

    The actor's exception is the `__cause__`; `stop_status` reports that cause itself when it
    is one of ours (its message is written for the operator)."""


def leaves(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions inside `exc`, nested exception groups flattened."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from leaves(inner)
    else:
        yield exc


def _not_a_failure(exc: BaseException) -> bool:
    """A stop by Ctrl-C or a cancellation that escaped: how we stop, not why."""
    return isinstance(exc, KeyboardInterrupt | trio.Cancelled)


def _reasons(exc: BaseException) -> list[BaseException]:
    """The failures `exc` stands for: an actor crash caused by our own errors is those."""
    if isinstance(exc, ActorCrashed) and exc.__cause__ is not None:
        inner = [leaf for leaf in leaves(exc.__cause__) if not _not_a_failure(leaf)]
        if inner and all(isinstance(leaf, LunardError) for leaf in inner):
            return inner
    return [exc]


def describe(exc: BaseException) -> str:
    if isinstance(exc, LunardError):
        return exc.message
    if isinstance(exc, ActorCrashed):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class StopStatus:
    """How the daemon ended: the process exit code and one line per distinct failure."""

    exit_code: int
    messages: tuple[str, ...] = ()


def stop_status(exc: BaseException) -> StopStatus:
    """Split what `trio.run(run_daemon)` raised, as hypercorn splits its groups.

    Groups holding only KeyboardInterrupt/Cancelled are a normal stop (0). A WorkerBootError
    anywhere wins (its exit code, 3). Anything else is a failure (1), reported with the real
    messages (a DataDirError's advice, not "Exceptions from Trio nursery")."""
    failures = [
        reason for leaf in leaves(exc) if not _not_a_failure(leaf) for reason in _reasons(leaf)
    ]
    if not failures:
        return StopStatus(0)
    boot = [failure for failure in failures if isinstance(failure, WorkerBootError)]
    if boot:
        return StopStatus(WorkerBootError.exit_code, (f"stopping: {boot[0].message}",))
    lines = [_failure_line(failure) for failure in failures]
    return StopStatus(1, tuple(dict.fromkeys(lines)))


def _failure_line(failure: BaseException) -> str:
    if isinstance(failure, ConfigError | DataDirError):  # they only happen at start-up
        return f"cannot start: {describe(failure)}"
    return f"stopping after a failure: {describe(failure)}"
