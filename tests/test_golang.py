"""Go's text rules in `lunard.golang`, as tables of Go's documented (and tested) behaviour.

Expected values come from Go's own test tables where they exist: `strconv/quote_test.go`
(quotetests), `strconv/atoi_test.go`, `net/textproto/reader_test.go`
(canonicalHeaderKeyTests), and the `time` package's `quote`.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from lunard.golang import AtoiError, atoi, canonical_header, quote, time_quote

# --------------------------------------------------------------------------- strconv.Quote

QUOTE = [
    ("", '""'),
    ("hello", '"hello"'),
    ('"Fran & Freddie\'s Diner\t☺"', '"\\"Fran & Freddie\'s Diner\\t☺\\""'),  # Go's example
    ("\a\b\f\r\n\t\v", '"\\a\\b\\f\\r\\n\\t\\v"'),
    ("\\", '"\\\\"'),
    ("\x00\x04\x1f\x7f", '"\\x00\\x04\\x1f\\x7f"'),
    ("\u263a", '"☺"'),
    ("é ü 世界", '"é ü 世界"'),  # printable non-ASCII is kept
    ("!\u00a0!\u2000!\u3000!", '"!\\u00a0!\\u2000!\\u3000!"'),  # non-ASCII spaces are not
    ("\ufeff", '"\\ufeff"'),  # a format character
    ("\u0085", '"\\u0085"'),  # a C1 control
    ("\U0010ffff", '"\\U0010ffff"'),  # a non-character above the BMP
    ("\U0001f600", '"\U0001f600"'),  # an emoji is printable
    ("'", '"\'"'),  # the single quote is not escaped
]


@pytest.mark.parametrize(("text", "expected"), QUOTE)
def test_quote_is_strconv_quote(text: str, expected: str) -> None:
    assert quote(text) == expected
    assert quote(text.encode()) == expected  # a Go string given as bytes: the same


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"abc\xffdef", '"abc\\xffdef"'),  # each invalid byte as \xHH
        (b"\xed\xa0\x80", '"\\xed\\xa0\\x80"'),  # an encoded surrogate is three bad bytes
        (b"\xc3", '"\\xc3"'),  # a truncated sequence
        (b"\xef\xbf\xbd", '"\ufffd"'),  # a real U+FFFD is printable
        (b"%zz", '"%zz"'),
    ],
)
def test_quote_escapes_invalid_utf8_byte_by_byte(data: bytes, expected: str) -> None:
    assert quote(data) == expected
    assert quote(data.decode("utf-8", "surrogateescape")) == expected


# --------------------------------------------------------------------------- time's quote

TIME_QUOTE = [
    ("2006-01-02", '"2006-01-02"'),
    ('a"b\\c', '"a\\"b\\\\c"'),
    ("\x00\t\n", '"\\x00\\x09\\x0a"'),  # controls by byte, never by name
    ("\x7f", '"\x7f"'),  # DEL is kept: time's quote only looks below space and above ASCII
    ("é", '"\\xc3\\xa9"'),  # every byte of non-ASCII
    ("\u263a", '"\\xe2\\x98\\xba"'),
    ("a\udcffb", '"a\\xffb"'),  # an undecodable byte
]


@pytest.mark.parametrize(("text", "expected"), TIME_QUOTE)
def test_time_quote_is_the_time_packages_own_rule(text: str, expected: str) -> None:
    assert time_quote(text) == expected


def test_the_two_quoting_rules_really_differ() -> None:
    assert quote("é\t\x7f") == '"é\\t\\x7f"'
    assert time_quote("é\t\x7f") == '"\\xc3\\xa9\\x09\x7f"'


# --------------------------------------------------------------------------- strconv.Atoi

ATOI_OK = [
    ("0", 0),
    ("-0", 0),
    ("1", 1),
    ("+1", 1),
    ("-1", -1),
    ("00012", 12),
    ("12345", 12345),
    ("-12345", -12345),
    ("9223372036854775807", 2**63 - 1),
    ("-9223372036854775808", -(2**63)),
]

ATOI_ERRORS = [
    ("", "invalid syntax"),
    ("+", "invalid syntax"),
    ("-", "invalid syntax"),
    ("++1", "invalid syntax"),
    ("+-1", "invalid syntax"),
    (" 1", "invalid syntax"),
    ("1 ", "invalid syntax"),
    ("1_000", "invalid syntax"),  # underscores only with base 0
    ("0x10", "invalid syntax"),
    ("1e3", "invalid syntax"),
    ("1.0", "invalid syntax"),
    ("١٢", "invalid syntax"),  # non-ASCII digits
    ("12345x", "invalid syntax"),
    ("9223372036854775808", "value out of range"),
    ("-9223372036854775809", "value out of range"),
    ("18446744073709551616", "value out of range"),
    ("9999999999999999999a", "invalid syntax"),  # fits in uint64 when the bad byte comes
    ("99999999999999999999a", "value out of range"),  # ParseUint overflows first
]


@pytest.mark.parametrize(("text", "expected"), ATOI_OK)
def test_atoi_accepts_what_go_accepts(text: str, expected: int) -> None:
    assert atoi(text) == expected


@pytest.mark.parametrize(("text", "reason"), ATOI_ERRORS)
def test_atoi_refuses_with_gos_error(text: str, reason: str) -> None:
    with pytest.raises(AtoiError) as caught:
        atoi(text)
    assert caught.value.reason == reason
    assert str(caught.value) == f"strconv.Atoi: parsing {quote(text)}: {reason}"


# --------------------------------------------------------------------------- headers

CANONICAL = [
    ("a-b-c", "A-B-C"),
    ("a-1-c", "A-1-C"),
    ("User-Agent", "User-Agent"),
    ("uSER-aGENT", "User-Agent"),
    ("user-agent", "User-Agent"),
    ("USER-AGENT", "User-Agent"),
    ("x-api-key", "X-Api-Key"),
    ("www-authenticate", "Www-Authenticate"),
    ("content-md5", "Content-Md5"),
    ("a--b", "A--B"),
    ("-a", "-A"),
    ("1a", "1a"),  # after a digit the next letter is lower case
    # Other valid tchar bytes in tokens.
    ("foo-bar_baz", "Foo-Bar_baz"),
    ("foo-bar$baz", "Foo-Bar$baz"),
    ("foo-bar~baz", "Foo-Bar~baz"),
    ("foo-bar*baz", "Foo-Bar*baz"),
    # Non-ASCII or anything with spaces or non-token bytes is unchanged.
    ("üser-agenT", "üser-agenT"),
    ("a B", "a B"),
    ("C Ontent-Transfer-Encoding", "C Ontent-Transfer-Encoding"),
    ("foo bar", "foo bar"),
    ("x-foo:", "x-foo:"),
    ("x(y)", "x(y)"),
    ("", ""),
]


@pytest.mark.parametrize(("name", "expected"), CANONICAL)
def test_canonical_header_is_textprotos(name: str, expected: str) -> None:
    assert canonical_header(name) == expected


@pytest.mark.parametrize(("name", "expected"), CANONICAL)
def test_canonical_header_on_bytes_is_the_same_rule(name: str, expected: str) -> None:
    assert canonical_header(name.encode()) == expected.encode()


def test_canonical_header_leaves_non_ascii_bytes_alone() -> None:
    assert canonical_header(b"x-caf\xe9") == b"x-caf\xe9"
    assert canonical_header("x-caf\xe9") == "x-caf\xe9"  # latin-1 decoded off the wire


def test_golang_imports_nothing_heavy() -> None:
    """The worker imports this module: no trio, quart, httpx or duckdb behind it."""
    code = (
        "import sys, lunard.golang\n"
        "heavy = {'trio', 'quart', 'httpx', 'duckdb', 'pyarrow'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
