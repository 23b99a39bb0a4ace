"""What the host modules (kv, env, log, http, ai, email...) see of the running execution.

The runtime builds one `HostContext` per execution and hands it to
`lunard.worker.modules.install_modules`; modules append what they produce (logs, tracked
AI/email calls) to it, and the runtime ships that back to the pool in the JobResult.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from lunard.state.dialect import Conn
from lunard.wire import AIRequestRow, EmailRequestRow, JobLimits, JobLog
from lunard.worker.http_client import OutboundClient


@dataclass
class HostContext:
    """Per-execution facts and sinks shared by the host modules.

    - `state`: the worker's connection to the state (SQLite file or PostgreSQL; KV and env
      live there; the worker keeps one connection for its whole life).
    - `env`: the function's env vars at dispatch time; `env.set/delete` update it and the
      store.
    - `deadline`: `time.monotonic()` instant past which the execution has timed out; outbound
      calls must not outlive it.
    """

    function_id: str
    execution_id: str
    function_name: str
    version: str
    base_url: str
    env: dict[str, str]
    state: Conn
    deadline: float
    limits: JobLimits
    logs: list[JobLog] = field(default_factory=list)
    log_bytes: int = 0
    logs_dropped: int = 0
    ai_requests: list[AIRequestRow] = field(default_factory=list)
    email_requests: list[EmailRequestRow] = field(default_factory=list)
    # The worker's HTTP client; a fresh one (made on first use) when none is handed in.
    outbound: OutboundClient = field(default_factory=OutboundClient)

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())
