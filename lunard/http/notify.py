"""What a request tells the other actors after its state change: the scheduler re-reads a
function (`ScheduleChanged`), the sink deletes execution records (`DeleteRecords`).

Not a blueprint: the blueprints that change functions, versions or imports share it.
Neither call ever fails the request; the state change has already happened.
"""

from __future__ import annotations

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
    """Ask the sink to delete execution records; the state change already happened."""
    inbox = deps().sink
    if inbox is None:
        return
    try:
        await inbox.send(message)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        log.error("record sink gone; %s not delivered", message)
