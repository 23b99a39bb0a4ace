"""`lunar versions ...`: a function's code history (http-api §5.17–5.21)."""

from __future__ import annotations

import click

from lunard.client import views
from lunard.client.commands.functions import page_options
from lunard.client.context import AppContext, LunarGroup, pass_app


def version_id(function_id: str, version: str) -> str:
    """A version id as the API wants it; a bare number `3` means `ver_<function>_v3`."""
    return f"ver_{function_id}_v{version}" if version.isdigit() else version


@click.group("versions", cls=LunarGroup)
def group() -> None:
    """List, show, activate, delete and compare a function's versions."""


@group.command("list")
@click.argument("function_id")
@page_options
@pass_app
def list_versions(app: AppContext, function_id: str, limit: int, offset: int) -> None:
    """List a function's versions, highest first (* marks the active one)."""
    app.out.emit(app.api.list_versions(function_id, limit, offset), views.versions_list)


@group.command("get")
@click.argument("function_id")
@click.argument("number")
@pass_app
def get(app: AppContext, function_id: str, number: str) -> None:
    """Show one version (by number) with its code."""
    app.out.emit(app.api.get_version(function_id, number), views.version_detail)


@group.command("activate")
@click.argument("function_id")
@click.argument("version")
@pass_app
def activate(app: AppContext, function_id: str, version: str) -> None:
    """Make VERSION (an id, or a number) the one that runs."""
    vid = version_id(function_id, version)
    app.api.activate_version(function_id, vid)
    app.out.done(f"activated {vid}")


@group.command("delete")
@click.argument("function_id")
@click.argument("version")
@pass_app
def delete(app: AppContext, function_id: str, version: str) -> None:
    """Delete an inactive VERSION (an id, or a number) and the executions that ran it."""
    vid = version_id(function_id, version)
    app.api.delete_version(function_id, vid)
    app.out.done(f"deleted {vid}")


@group.command("diff")
@click.argument("function_id")
@click.argument("v1")
@click.argument("v2")
@pass_app
def diff(app: AppContext, function_id: str, v1: str, v2: str) -> None:
    """Show the line changes from version V1 to V2 (numbers)."""
    app.out.emit(app.api.diff(function_id, v1, v2), views.diff_view)
