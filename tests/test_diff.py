"""Line diff of two versions' code (platform §6, http-api §3.7)."""

from __future__ import annotations

from typing import Any

from lunard.diff import diff_lines, split_lines


def kinds(diff: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(line["line_type"], line["content"]) for line in diff]


def test_split_lines() -> None:
    assert split_lines("") == []
    assert split_lines("a") == ["a"]
    assert split_lines("a\n") == ["a"]
    assert split_lines("a\n\nb\n") == ["a", "", "b"]
    assert split_lines("\n") == [""]


def test_empty_on_both_sides() -> None:
    assert diff_lines("", "") == []


def test_identical_is_all_unchanged_with_both_numbers() -> None:
    assert diff_lines("a\nb", "a\nb\n") == [
        {"line_type": "unchanged", "old_line": 1, "new_line": 1, "content": "a"},
        {"line_type": "unchanged", "old_line": 2, "new_line": 2, "content": "b"},
    ]


def test_added_lines_have_only_new_numbers() -> None:
    assert diff_lines("a\n", "a\nb\nc\n") == [
        {"line_type": "unchanged", "old_line": 1, "new_line": 1, "content": "a"},
        {"line_type": "added", "new_line": 2, "content": "b"},
        {"line_type": "added", "new_line": 3, "content": "c"},
    ]


def test_removed_lines_have_only_old_numbers() -> None:
    assert diff_lines("a\nb\nc\n", "c\n") == [
        {"line_type": "removed", "old_line": 1, "content": "a"},
        {"line_type": "removed", "old_line": 2, "content": "b"},
        {"line_type": "unchanged", "old_line": 3, "new_line": 1, "content": "c"},
    ]


def test_modified_hunk_lists_removals_before_additions() -> None:
    diff = diff_lines("keep\nold1\nold2\ntail\n", "keep\nnew1\nnew2\ntail\n")
    assert kinds(diff) == [
        ("unchanged", "keep"),
        ("removed", "old1"),
        ("removed", "old2"),
        ("added", "new1"),
        ("added", "new2"),
        ("unchanged", "tail"),
    ]
    assert [line.get("old_line") for line in diff] == [1, 2, 3, None, None, 4]
    assert [line.get("new_line") for line in diff] == [1, None, None, 2, 3, 4]


def test_from_empty_and_to_empty() -> None:
    assert kinds(diff_lines("", "x\ny")) == [("added", "x"), ("added", "y")]
    assert kinds(diff_lines("x\ny", "")) == [("removed", "x"), ("removed", "y")]


def test_blank_lines_ending_a_hunk_are_kept() -> None:
    # upstream drops a blank line that ends a chunk; we keep every line
    diff = diff_lines("a\n", "a\nb\n\n")
    assert kinds(diff) == [("unchanged", "a"), ("added", "b"), ("added", "")]
    assert diff[-1]["new_line"] == 3


def test_repeated_lines_in_long_code_are_matched() -> None:
    # difflib's autojunk would treat a line repeated this often as noise
    old = "end\n" * 300 + "x\n"
    new = "end\n" * 300 + "y\n"
    assert kinds(diff_lines(old, new))[-2:] == [("removed", "x"), ("added", "y")]
    assert sum(1 for line in diff_lines(old, new) if line["line_type"] == "unchanged") == 300


def test_every_line_is_accounted_for() -> None:
    old = "function handler()\n  local a = 1\n  return a\nend\n"
    new = "-- comment\nfunction handler()\n  local a = 2\n  return a\nend\n"
    diff = diff_lines(old, new)
    olds = [line["old_line"] for line in diff if "old_line" in line]
    news = [line["new_line"] for line in diff if "new_line" in line]
    assert olds == list(range(1, 5))
    assert news == list(range(1, 6))
    assert [line["content"] for line in diff if line["line_type"] != "added"] == split_lines(old)
    assert [line["content"] for line in diff if line["line_type"] != "removed"] == split_lines(new)
