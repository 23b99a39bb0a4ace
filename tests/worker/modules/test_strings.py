"""strings module (lua-runtime §6.10, §12 statements 66-70)."""

from __future__ import annotations

from tests.worker.modules.conftest import Execution


def test_s66_strings_combined(lua: Execution) -> None:
    body = lua.run(
        """return "Trimmed: " .. strings.trim("  hello  ")
        .. ", Upper: " .. strings.toUpper("hello")
        .. ", Joined: " .. strings.join(strings.split("a,b,c", ","), "-")
        .. ", HasPrefix: " .. tostring(strings.hasPrefix("hello", "hel"))"""
    )
    assert body == "Trimmed: hello, Upper: HELLO, Joined: a-b-c, HasPrefix: true"


def test_s67_strings_trims(lua: Execution) -> None:
    assert lua.run(
        'return strings.trimLeft("  hello  "), strings.trimRight("  hello  "), '
        'strings.trim("\\t\\nhello\\n\\t"), strings.trim("   ")'
    ) == ("hello  ", "  hello", "hello", "")
    # trim is Unicode-aware (NBSP, ideographic space); trimLeft/Right only strip " \t\n\r".
    assert lua.run(
        'return strings.trim("\\194\\160x\\227\\128\\128"), strings.trimLeft("\\vx")'
    ) == ("x", "\vx")


def test_s68_strings_split(lua: Execution) -> None:
    assert lua.run(
        'return strings.split("", ","), strings.split("a::b", ":"), strings.split("no-sep", ",")'
    ) == ([""], ["a", "", "b"], ["no-sep"])
    assert lua.run('return strings.split("añb", "")') == ["a", "ñ", "b"]


def test_s69_strings_replace(lua: Execution) -> None:
    assert lua.run(
        'return strings.replace("hello hello", "hello", "hi"), '
        'strings.replace("hello hello", "hello", "hi", 1), strings.replace("aaa", "a", "b", 2), '
        'strings.replace("aaa", "a", "b", 0), strings.replace("aaa", "a", "b", -1)'
    ) == ("hi hi", "hi hello", "bba", "aaa", "bbb")
    assert lua.run(
        'return strings.replace("ab", "", "-"), strings.replace("ab", "", "-", 2), '
        'strings.replace("añ", "", "|", 1)'
    ) == ("-a-b-", "-a-b", "|añ")
    assert lua.run('return strings.replace("aaa", "a", "b", 1.9)') == "baa"


def test_s70_strings_misc(lua: Execution) -> None:
    # `repeat` is a Lua keyword, so Lua code (upstream too) must index it as a string.
    assert lua.run(
        'return strings["repeat"]("ab", 3), strings["repeat"]("hello", 0), '
        'strings.contains("hello", ""), '
        'strings.hasSuffix("hello", "hello world"), strings.toLower("123ABC")'
    ) == ("ababab", "", True, False, "123abc")


def test_strings_join_walk_and_as_string(lua: Execution) -> None:
    assert lua.run('return strings.join({"a", true, "b", 3, 1.5}, "-")') == "a--b-3-1.5"
    assert lua.run('return strings.join({}, ",")') == ""
    assert "bad argument #1 to 'join' (table expected, got string)" in lua.error_of(
        'strings.join("a", ",")'
    )


def test_strings_unicode_case(lua: Execution) -> None:
    assert lua.run('return strings.toUpper("héllo ß"), strings.toLower("ÉCOLE")') == (
        "HÉLLO ß",
        "école",
    )


def test_strings_repeat_negative_raises(lua: Execution) -> None:
    assert (
        lua.error_of('strings["repeat"]("a", -1)') == "<string>:2: strings: negative Repeat count"
    )
    assert "bad argument #2 to 'repeat' (number expected, got string)" in lua.error_of(
        'strings["repeat"]("a", "2")'
    )
    assert "Repeat output length overflow" in lua.error_of('strings["repeat"]("ab", 2^40)')
