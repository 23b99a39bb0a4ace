"""`lunar executions ...`: records of past calls and their logs (http-api §5.22–5.26)."""

from __future__ import annotations

import click

from lunard.client import views
from lunard.client.commands.functions import page_options
from lunard.client.context import AppContext, LunarGroup, pass_app


@click.group("executions", cls=LunarGroup)
def group() -> None:
    """List executions and show their logs, AI and email calls."""


@group.command("list")
@click.argument("function_id")
@page_options
@pass_app
def list_executions(app: AppContext, function_id: str, limit: int, offset: int) -> None:
    """List a function's executions, newest first."""
    app.out.emit(app.api.list_executions(function_id, limit, offset), views.executions_list)


@group.command("get")
@click.argument("execution_id")
@pass_app
def get(app: AppContext, execution_id: str) -> None:
    """Show one execution: status, error, event and saved response."""
    app.out.emit(app.api.get_execution(execution_id), views.execution_detail)


@group.command("logs")
@click.argument("execution_id")
@page_options
@pass_app
def logs(app: AppContext, execution_id: str, limit: int, offset: int) -> None:
    """Show an execution's log lines, oldest first (see also 'lunar logs FUNCTION')."""
    app.out.emit(app.api.execution_logs(execution_id, limit, offset), views.execution_logs)


@group.command("ai-requests")
@click.argument("execution_id")
@page_options
@pass_app
def ai_requests(app: AppContext, execution_id: str, limit: int, offset: int) -> None:
    """List the ai.chat calls an execution made."""
    data = app.api.tracked_requests(execution_id, "ai-requests", limit, offset)
    app.out.emit(data, views.ai_requests)


@group.command("email-requests")
@click.argument("execution_id")
@page_options
@pass_app
def email_requests(app: AppContext, execution_id: str, limit: int, offset: int) -> None:
    """List the email.send calls an execution made."""
    data = app.api.tracked_requests(execution_id, "email-requests", limit, offset)
    app.out.emit(data, views.email_requests)
