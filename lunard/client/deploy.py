"""`lunar deploy`: make the server's function match a local file, with a version only on change.

The function is found by `--id`, else by its exact name (default: the file's stem). Missing,
it is created; present with different code, the code is updated (one new version); present
with the same code, nothing is sent. A name shared by several functions is an error: the
client will not guess which one to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from lunard.client.api import Api
from lunard.client.errors import ClientError


@dataclass(frozen=True)
class DeployResult:
    """What `deploy` did (`created`, `updated` or `unchanged`) and where the function is."""

    action: str
    function: dict[str, Any]
    url: str
    new_version: bool = False

    def to_json(self) -> dict[str, Any]:
        """The `--output json` form."""
        version = self.function.get("active_version") or {}
        return {
            "action": self.action,
            "id": self.function.get("id"),
            "name": self.function.get("name"),
            "version": version.get("version"),
            "new_version": self.new_version,
            "url": self.url,
        }


def function_url(server: str, function_id: str) -> str:
    """The public URL of a function."""
    return f"{server}/fn/{function_id}"


def find_by_name(api: Api, name: str) -> dict[str, Any] | None:
    """The one function named `name`, None if there is none; several is an error."""
    matches = [fn for fn in api.all_functions() if fn.get("name") == name]
    if len(matches) > 1:
        ids = ", ".join(str(fn.get("id")) for fn in matches)
        raise click.UsageError(f"{len(matches)} functions are named {name!r} ({ids}); pass --id")
    return matches[0] if matches else None


def deploy(
    api: Api,
    code: str,
    *,
    name: str | None,
    function_id: str | None = None,
    description: str | None = None,
) -> DeployResult:
    """Create or update the function so its active code is `code`.

    With `function_id`, that function is updated (and renamed when `name` is given);
    without it, `name` finds the function or names the new one.
    """
    if function_id:
        current = api.get_function(function_id)
    elif name:
        current = find_by_name(api, name)
    else:
        raise click.UsageError("deploy needs a function name or --id")
    if current is None:
        assert name is not None
        body: dict[str, Any] = {"name": name, "code": code}
        if description is not None:
            body["description"] = description
        created = api.create_function(body)
        return DeployResult("created", created, function_url(api.server, created["id"]), True)
    fid = str(current["id"])
    changes: dict[str, Any] = {}
    if (current.get("active_version") or {}).get("code") != code:
        changes["code"] = code
    if name is not None and name != current.get("name"):
        changes["name"] = name
    if description is not None and description != current.get("description"):
        changes["description"] = description
    if not changes:
        return DeployResult("unchanged", current, function_url(api.server, fid))
    api.update_function(fid, changes)
    updated = api.get_function(fid)
    if not isinstance(updated, dict):
        raise ClientError(f"{api.server} did not return function {fid} after the update")
    return DeployResult("updated", updated, function_url(api.server, fid), "code" in changes)
