"""Line diff between two versions' code (platform §6, http-api §3.7 and §5.21).

Upstream uses diff-match-patch in line mode; the spec accepts any LCS/Myers line diff, so
the standard library's difflib does it without a dependency. Lines are emitted in document
order, a changed hunk lists its removals before its additions, and upstream's quirk of
dropping a blank line that ends a chunk is deliberately not reproduced.
"""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import Any


def split_lines(text: str) -> list[str]:
    """Lines of `text` without their newlines; a missing final newline is implied."""
    if not text:
        return []
    if text.endswith("\n"):
        text = text[:-1]
    return text.split("\n")


def _line(kind: str, content: str, old: int | None, new: int | None) -> dict[str, Any]:
    line: dict[str, Any] = {"line_type": kind}
    if old is not None:
        line["old_line"] = old
    if new is not None:
        line["new_line"] = new
    line["content"] = content
    return line


def diff_lines(old_text: str, new_text: str) -> list[dict[str, Any]]:
    """DiffLine objects turning `old_text` into `new_text` (1-based line numbers)."""
    old, new = split_lines(old_text), split_lines(new_text)
    # autojunk would treat frequent lines (`end`, blank lines) as noise in long files.
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    result: list[dict[str, Any]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            result.extend(
                _line("unchanged", old[i], i + 1, j + 1)
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            )
            continue
        result.extend(_line("removed", old[i], i + 1, None) for i in range(i1, i2))
        result.extend(_line("added", new[j], None, j + 1) for j in range(j1, j2))
    return result
