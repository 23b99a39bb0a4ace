"""The bundled agent guides (`lunar skills list|show`): markdown files with a front matter.

Each guide is `<name>.txt` in this package (package data), starting with::

    ---
    name: lunar-cli
    description: one line saying when to read it
    ---
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

SUFFIXES = (".md", ".txt")


@dataclass(frozen=True)
class Skill:
    """One guide: its name, its one-line description and its full text."""

    name: str
    description: str
    content: str

    def to_json(self, *, full: bool = False) -> dict[str, str]:
        """The `--output json` form (the content only for `show`)."""
        data = {"name": self.name, "description": self.description}
        if full:
            data["content"] = self.content
        return data


def _front_matter(text: str) -> dict[str, str]:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}
    meta: dict[str, str] = {}
    for line in lines[1:]:
        if line.strip() == "---":
            break
        key, _, value = line.partition(":")
        meta[key.strip()] = value.strip()
    return meta


def all_skills() -> list[Skill]:
    """Every bundled guide, by name."""
    found: dict[str, Skill] = {}
    for entry in resources.files(__name__).iterdir():
        name, dot, suffix = entry.name.rpartition(".")
        if not dot or "." + suffix not in SUFFIXES or not entry.is_file():
            continue
        text = entry.read_text(encoding="utf-8")
        meta = _front_matter(text)
        skill_name = meta.get("name") or name
        found[skill_name] = Skill(skill_name, meta.get("description", ""), text)
    return [found[name] for name in sorted(found)]


def find_skill(name: str) -> Skill | None:
    """The guide called `name`, or None."""
    return next((skill for skill in all_skills() if skill.name == name), None)
