"""What every command shares: the global options, the resolved settings, one API client.

`--server`, `--token` and `--output` are accepted before the command (`lunar --output json
functions list`) and, like the Go CLI's persistent flags, after it (`lunar functions list
--output json`); the one nearest the end wins. `LunarGroup` adds them, hidden, to every
command of the tree, so no command can forget them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import click

from lunard.client.api import Api
from lunard.client.config import Settings, config_path, resolve
from lunard.client.output import FORMATS, Output


@dataclass
class AppContext:
    """The global options given so far; settings and the API client are built on first use."""

    flags: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None
    _api: Api | None = None
    _out: Output | None = None

    @property
    def settings(self) -> Settings:
        """Server and token after flags > environment > config file > default."""
        if self._settings is None:
            self._settings = resolve(
                server_flag=self.flags.get("server"),
                token_flag=self.flags.get("token"),
                env=os.environ,
                path=config_path(),
            )
        return self._settings

    @property
    def api(self) -> Api:
        """The API client of the resolved server and token (closed when the command ends)."""
        if self._api is None:
            settings = self.settings
            self._api = Api(settings.server, settings.token)
            click.get_current_context().call_on_close(self._api.close)
        return self._api

    @property
    def out(self) -> Output:
        """The output format asked for (tables by default)."""
        if self._out is None:
            self._out = Output(self.flags.get("output") or "table")
        return self._out


pass_app = click.make_pass_decorator(AppContext, ensure=True)


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None and param.name:
        app = ctx.ensure_object(AppContext)
        app.flags[param.name] = value
        app._settings, app._out = None, None
    return value


def global_params(*, hidden: bool) -> list[click.Option]:
    """The options every command takes; `hidden` for the copies after the command name."""
    kwargs: dict[str, Any] = {"callback": _remember, "expose_value": False, "hidden": hidden}
    return [
        click.Option(
            ["--server"],
            metavar="URL",
            help="server URL [env LUNAR_SERVER; config file; default http://localhost:3000]",
            **kwargs,
        ),
        click.Option(
            ["--token"],
            metavar="TOKEN",
            help="API token or admin key [env LUNAR_TOKEN; config file]",
            **kwargs,
        ),
        click.Option(
            ["--output"],
            type=click.Choice(FORMATS),
            help="'json' prints the API's JSON; default: tables",
            **kwargs,
        ),
    ]


class LunarGroup(click.Group):
    """A command group whose commands all accept the global options (hidden in their help)."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not any(param.name == "server" for param in cmd.params):  # aliases: once
            cmd.params.extend(global_params(hidden=True))
        super().add_command(cmd, name)

    def group(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", LunarGroup)
        return super().group(*args, **kwargs)
