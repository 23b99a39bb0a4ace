"""What a request tells the other actors after its state change: the scheduler re-reads a
function (`ScheduleChanged`), the sink deletes execution records (`DeleteRecords`).

Not a blueprint: the blueprints that change functions, versions or imports share it.
Neither call ever fails the request; the state change has already happened.
"""

from __future__ import annotations

import dataclasses
import logging

import trio

from lunard.http.deps import deps
from lunard.messages import DeleteRecords, ScheduleChanged

log = logging.getLogger(__name__)


def notify_scheduler(function_id: str) -> None:
    """Tell the scheduler to re-read a function; never fails the request."""
    inbox = deps().scheduler
    if inbox is None:
        return
    try:
        inbox.send_nowait(ScheduleChanged(function_id))
    except trio.WouldBlock:
        log.warning("scheduler inbox full; schedule change of %s not sent", function_id)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        log.warning("scheduler gone; schedule change of %s not sent", function_id)


async def delete_records(message: DeleteRecords) -> None:
    """Have the sink delete execution records, and wait until it has: the answer to the
    request comes after, so any node listing records next (records on PostgreSQL) no longer
    sees them. The state change already happened; a sink failure is logged, not raised."""
    inbox = deps().sink
    if inbox is None:
        return
    send, receive = trio.open_memory_channel[int](1)
    with send, receive:
        try:
            await inbox.send(dataclasses.replace(message, reply=send))
            await receive.receive()
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.EndOfChannel):
            log.error("record sink gone or failed; %s not done", message)
