"""`lunar skills list|show` (bundled guides for agents and people) and `lunar llms`."""

from __future__ import annotations

from typing import Any

import click

from lunard.client.context import AppContext, LunarGroup, pass_app
from lunard.client.skills import all_skills, find_skill
from lunard.client.views import cell, table


@click.group("skills", cls=LunarGroup)
def group() -> None:
    """Bundled guides: how to drive this CLI (lunar-cli), how to write functions (lunar-lua)."""


@group.command("list")
@pass_app
def list_skills(app: AppContext) -> None:
    """List the bundled guides."""
    skills = all_skills()

    def view(_: object) -> list[Any]:
        t = table("name", "description")
        for skill in skills:
            t.add_row(cell(skill.name), cell(skill.description))
        return [t]

    app.out.emit({"skills": [skill.to_json() for skill in skills]}, view)


@group.command("show")
@click.argument("name")
@pass_app
def show(app: AppContext, name: str) -> None:
    """Print a guide (markdown)."""
    skill = find_skill(name)
    if skill is None:
        names = ", ".join(s.name for s in all_skills())
        raise click.BadParameter(f"no skill named {name!r} (bundled: {names})", param_hint="NAME")
    if app.out.json:
        app.out.print_json(skill.to_json(full=True))
    else:
        click.echo(skill.content, nl=not skill.content.endswith("\n"))


@click.command("llms")
@pass_app
def llms(app: AppContext) -> None:
    """Print the server's /llms.txt (its Lua authoring guide, for LLM agents)."""
    text = app.api.llms_txt()
    click.echo(text, nl=not text.endswith("\n"))
