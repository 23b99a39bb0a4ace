"""`lunar functions ...`: create, list, read, change and delete functions (http-api §5.9–5.16)."""

from __future__ import annotations

from typing import Any

import click
from rich.text import Text

from lunard.client import views
from lunard.client.context import AppContext, LunarGroup, pass_app
from lunard.client.deploy import function_url
from lunard.client.inputs import KEY_VALUE, LIMIT, TEXT_SOURCE, Limit

RETENTION_DAYS = ("7", "15", "30", "365")


def bool_option(*decls: str, help_text: str) -> Any:
    """`--name` (true), `--name=false` or `--name=true`, as the Go CLI's bool flags take."""
    return click.option(
        *decls, type=click.BOOL, is_flag=False, flag_value=True, default=None, help=help_text
    )


def page_options(func: Any) -> Any:
    """`--limit` and `--offset` of a paginated list."""
    func = click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)(func)
    return click.option(
        "--limit", type=click.IntRange(1, 100), default=20, show_default=True, help="page size"
    )(func)


@click.group("functions", cls=LunarGroup)
def group() -> None:
    """Manage functions: their code, settings, env vars and KV data."""


@group.command("list")
@page_options
@pass_app
def list_functions(app: AppContext, limit: int, offset: int) -> None:
    """List functions, newest first."""
    app.out.emit(app.api.list_functions(limit, offset), views.functions_list)


@group.command("create")
@click.option("--name", required=True, help="function name")
@click.option("--code", required=True, type=TEXT_SOURCE, help="Lua source, '-' for stdin, @FILE")
@click.option("--description", help="free text")
@click.option("--max-concurrency", type=LIMIT, help="workers its calls may hold at once")
@pass_app
def create(
    app: AppContext, name: str, code: str, description: str | None, max_concurrency: Limit | None
) -> None:
    """Create a function; its code becomes version 1."""
    body: dict[str, Any] = {"name": name, "code": code}
    if description is not None:
        body["description"] = description
    if max_concurrency is not None:
        body["max_concurrency"] = max_concurrency.value
    created = app.api.create_function(body)
    app.out.emit(
        created, lambda fn: views.function_detail(fn, function_url(app.api.server, fn["id"]))
    )


@group.command("get")
@click.argument("function_id")
@pass_app
def get(app: AppContext, function_id: str) -> None:
    """Show a function with its env vars and KV data."""
    fn = app.api.get_function(function_id)
    app.out.emit(
        fn, lambda data: views.function_detail(data, function_url(app.api.server, function_id))
    )


@group.command("update")
@click.argument("function_id")
@click.option("--name", help="new name")
@click.option("--description", help="new description ('' clears it)")
@click.option("--code", type=TEXT_SOURCE, help="new code (a new active version): text, '-', @FILE")
@bool_option("--disabled", help_text="disable (true) or enable (false) calls")
@click.option("--retention-days", type=click.Choice(RETENTION_DAYS), help="keep executions N days")
@click.option("--cron-schedule", metavar="CRON", help="5-field cron, e.g. '*/5 * * * *'; '' clears")
@click.option("--cron-status", type=click.Choice(["active", "paused"]), help="run the schedule?")
@bool_option("--save-response", help_text="store each response with its execution")
@click.option("--max-concurrency", type=LIMIT, help="workers its calls may hold at once, or none")
@pass_app
def update(app: AppContext, function_id: str, **changes: Any) -> None:
    """Change a function; only the options given are sent (--code adds a version)."""
    body = {key: value for key, value in changes.items() if value is not None}
    if not body:
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    if "retention_days" in body:
        body["retention_days"] = int(body["retention_days"])
    if isinstance(body.get("max_concurrency"), Limit):
        body["max_concurrency"] = body["max_concurrency"].value
    app.api.update_function(function_id, body)
    app.out.done(f"updated {function_id}" + (" (new version)" if "code" in body else ""))


@group.command("delete")
@click.argument("function_id")
@pass_app
def delete(app: AppContext, function_id: str) -> None:
    """Delete a function with its versions and executions."""
    app.api.delete_function(function_id)
    app.out.done(f"deleted {function_id}")


def _version_summary(what: str, function_id: str) -> Any:
    def view(version: dict[str, Any]) -> Any:
        yield Text(f"{what} of {function_id} replaced (active version {version.get('version')})")

    return view


@group.command("env")
@click.argument("function_id")
@click.option("--env", "pairs", type=KEY_VALUE, multiple=True, help="KEY=VALUE, repeatable")
@click.option("--clear", is_flag=True, help="remove every env var")
@pass_app
def env(app: AppContext, function_id: str, pairs: tuple[tuple[str, str], ...], clear: bool) -> None:
    """Replace a function's env vars with the given ones (others are removed)."""
    if not pairs and not clear:
        raise click.UsageError("give --env KEY=VALUE (repeatable), or --clear to remove all")
    version = app.api.replace_env(function_id, dict(pairs))
    app.out.emit(version, _version_summary("env vars", function_id))


@group.command("kv")
@click.argument("function_id")
@click.option("--kv", "pairs", type=KEY_VALUE, multiple=True, help="KEY=VALUE, repeatable")
@bool_option(
    "--global", "global_scope", help_text="replace the global (shared) KV set, not the function's"
)
@click.option("--clear", is_flag=True, help="remove every entry of the set")
@pass_app
def kv(
    app: AppContext,
    function_id: str,
    pairs: tuple[tuple[str, str], ...],
    global_scope: bool | None,
    clear: bool,
) -> None:
    """Replace a function's KV entries (or the global ones) with the given ones."""
    if not pairs and not clear:
        raise click.UsageError("give --kv KEY=VALUE (repeatable), or --clear to remove all")
    version = app.api.replace_kv(function_id, list(pairs), global_scope=bool(global_scope))
    what = "global KV entries" if global_scope else "KV entries"
    app.out.emit(version, _version_summary(what, function_id))


@group.command("next-run")
@click.argument("function_id")
@pass_app
def next_run(app: AppContext, function_id: str) -> None:
    """Show a function's schedule and when it runs next."""
    app.out.emit(app.api.next_run(function_id), views.next_run)
