"""base64 and url modules (lua-runtime §6.6, §6.9, §12 statements 49-56)."""

from __future__ import annotations

from tests.worker.modules.conftest import Execution


def test_s49_base64_round_trip(lua: Execution) -> None:
    assert lua.run(
        'local e = base64.encode("Hello, World!") local d, err = base64.decode(e) return e, d, err'
    ) == ("SGVsbG8sIFdvcmxkIQ==", "Hello, World!", None)
    assert lua.run('return select("#", base64.decode("YQ=="))') == 2


def test_s50_base64_encode_examples(lua: Execution) -> None:
    assert lua.run(
        'return base64.encode("hello world"), base64.encode("hello 世界"), base64.encode("")'
    ) == ("aGVsbG8gd29ybGQ=", "aGVsbG8g5LiW55WM", "")
    assert lua.run('return base64.decode("")') == ("", None)
    assert lua.run("return base64.encode(12)") == "MTI="


def test_s51_base64_invalid_and_binary(lua: Execution) -> None:
    assert lua.run('return base64.decode("not-valid-base64!!!")') == (
        None,
        "illegal base64 data at input byte 3",
    )
    assert lua.run(
        r'local s = "\0\1\2\255" local d = base64.decode(base64.encode(s)) return d == s, #d'
    ) == (True, 4)


def test_base64_strictness(lua: Execution) -> None:
    assert lua.run('return base64.decode("YWJj\\r\\nZGVm")') == ("abcdef", None)
    assert lua.run('return base64.decode("YWJjZA")') == (
        None,
        "illegal base64 data at input byte 6",
    )
    assert lua.run('return base64.decode("Y===")') == (None, "illegal base64 data at input byte 1")
    assert lua.run('return base64.decode("YWJjZ")') == (None, "illegal base64 data at input byte 4")
    assert lua.run('return base64.decode("YQ==YQ==")') == (
        None,
        "illegal base64 data at input byte 4",
    )


def test_s52_url_encode_decode(lua: Execution) -> None:
    assert lua.run('return url.encode("hello world & test")') == "hello+world+%26+test"
    assert lua.run('return url.decode("hello+world+%26+test")') == ("hello world & test", None)


def test_s53_url_escapes(lua: Execution) -> None:
    assert lua.run(
        'return url.encode("a=b&c=d"), url.encode("hello+world"), url.encode("special!@#$%"), '
        'url.encode("unicode 你好"), url.encode("-_.~")'
    ) == (
        "a%3Db%26c%3Dd",
        "hello%2Bworld",
        "special%21%40%23%24%25",
        "unicode+%E4%BD%A0%E5%A5%BD",
        "-_.~",
    )
    assert lua.run('return url.decode("hello%20world")') == ("hello world", None)
    assert lua.run('return url.decode("hello%2Bworld")') == ("hello+world", None)
    assert lua.run('return url.decode("%ZZ")') == (None, 'invalid URL escape "%ZZ"')
    assert lua.run('return url.decode("abc%4")') == (None, 'invalid URL escape "%4"')


def test_s54_url_parse_parts(lua: Execution) -> None:
    parsed, err = lua.run(
        'return url.parse("https://example.com:8080/path?foo=bar&baz=qux#section")'
    )
    assert err is None
    assert parsed == {
        "scheme": "https",
        "host": "example.com:8080",
        "path": "/path",
        "query": {"foo": "bar", "baz": "qux"},
        "fragment": "section",
    }


def test_s55_url_parse_userinfo_and_multi_values(lua: Execution) -> None:
    assert lua.run(
        'local u = url.parse("https://user:pass@example.com/path") return u.username, u.password'
    ) == ("user", "pass")
    assert lua.run('return url.parse("https://example.com?tag=a&tag=b&tag=c").query.tag') == [
        "a",
        "b",
        "c",
    ]
    assert lua.run('return url.parse("https://example.com/path").username') is None
    assert lua.run('return url.parse("https://user@example.com/").password') is None


def test_s56_url_parse_invalid(lua: Execution) -> None:
    assert lua.run('return url.parse("://invalid")') == (
        None,
        'parse "://invalid": missing protocol scheme',
    )


def test_url_parse_lenient_forms(lua: Execution) -> None:
    parsed, err = lua.run('return url.parse("not a url")')
    assert err is None and parsed["path"] == "not a url" and parsed["scheme"] == ""
    parsed, _ = lua.run('return url.parse("/a%20b?q=x+y&bad=%zz&k#frag%21")')
    assert parsed["path"] == "/a b"
    assert parsed["query"] == {"q": "x y", "k": ""}
    assert parsed["fragment"] == "frag!"
    assert lua.run('return url.parse("http://h:port/")') == (
        None,
        'parse "http://h:port/": invalid port ":port" after host',
    )
