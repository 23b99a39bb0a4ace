"""The client's exceptions: each one is a single line on stderr and exit code 1.

They subclass `click.ClickException`, so Click prints `Error: <message>` and exits with
`exit_code`; usage errors stay Click's own (`click.UsageError`, exit code 2).
"""

from __future__ import annotations

import click

LOGIN_HINT = "run 'lunar login'"


class ClientError(click.ClickException):
    """Base of every failure the client reports: the server, the network or a local file."""

    exit_code = 1


class ConnectionFailed(ClientError):
    """The server could not be reached (refused, unknown host, timed out, TLS...)."""

    def __init__(self, server: str, reason: str) -> None:
        super().__init__(f"cannot reach {server}: {reason}")
        self.server = server
        self.reason = reason


class ApiError(ClientError):
    """The server answered with an error status; `error` is its `{"error"}` text."""

    def __init__(self, status: int, error: str, *, had_token: bool = True) -> None:
        self.status = status
        self.error = error
        super().__init__(self._describe(status, error, had_token))

    @staticmethod
    def _describe(status: int, error: str, had_token: bool) -> str:
        if status == 401 and not had_token:
            return f"401: not logged in — {LOGIN_HINT}"
        if status == 401:
            return f"401: {error} (the token was rejected) — {LOGIN_HINT}"
        return f"{status}: {error}"


class BadResponse(ClientError):
    """The server answered something that is not the API's JSON (wrong URL, proxy page...)."""


class LoginFailed(ClientError):
    """The device login ended without a token: denied, expired or collected elsewhere."""


class ConfigFileError(ClientError):
    """The config file cannot be read, parsed or written."""
