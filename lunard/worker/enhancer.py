"""The error enhancer: turns a raw Lua error into the dashboard's three-part text (lua-runtime §8).

`enhance(raw, source)` gives

    Error at line N: <raw without the runtime prefix>\n      ("Error: ...\n" when N is 0)
    \n[CODE]\n<up to 2 lines either side, error line marked>[/CODE]\n   (when there is context)
    \n<tip>                                                     (when the class has one)

The twelve upstream classification rules keep their order; two rules recommended by the spec
follow them so LuaJIT's own syntax errors (`'=' expected near 'is'`) and indexing of
non-nil, non-table values (`(a number value)`) classify too. LuaJIT wordings such as
`attempt to index local 'data' (a nil value)` and `attempt to call global 'processData'
(a nil value)` match the upstream rules as they stand.
"""

from __future__ import annotations

import re
from typing import Literal

ErrorClass = Literal[
    "nil_index",
    "non_table_index",
    "nil_call",
    "bad_argument",
    "syntax_error",
    "missing_end",
    "arithmetic_error",
    "concat_error",
    "compare_error",
    "no_handler",
    "bad_return",
    "unknown",
]

LOAD_PREFIX = "failed to load Lua code: "
HANDLER_PREFIX = "failed to execute handler: "

_LINE = re.compile(r"<string>:(\d+):")
_GOPHER_LINE = re.compile(r"<string> line:(\d+)")
_COLUMN = re.compile(r"column:(\d+)")

# First match wins; `.` does not cross newlines, so traceback lines cannot complete a match.
_RULES: tuple[tuple[re.Pattern[str], ErrorClass], ...] = (
    (re.compile(r"attempt to index.*nil"), "nil_index"),
    (re.compile(r"attempt to index a non-table"), "non_table_index"),
    (re.compile(r"attempt to call.*nil"), "nil_call"),
    (re.compile(r"bad argument.*expected.*got"), "bad_argument"),
    (re.compile(r"unexpected symbol"), "syntax_error"),
    (re.compile(r"syntax error"), "syntax_error"),
    (re.compile(r"'end' expected"), "missing_end"),
    (re.compile(r"attempt to perform arithmetic"), "arithmetic_error"),
    (re.compile(r"attempt to concatenate"), "concat_error"),
    (re.compile(r"attempt to compare"), "compare_error"),
    (re.compile(r"handler function not found"), "no_handler"),
    (re.compile(r"handler did not return a table"), "bad_return"),
    # Recommended additions (§8.4 "Engine-dependence"), after the upstream twelve.
    (re.compile(r"expected near|expected \(to close"), "syntax_error"),
    (re.compile(r"attempt to index"), "non_table_index"),
)

_TIPS: dict[ErrorClass, str] = {
    "nil_index": (
        "[TIP] You are reading a field of a value that is nil.\n"
        "Common causes:\n"
        "  - a function call failed and returned nil (check its error value)\n"
        "  - a variable was never initialised\n"
        "  - http.get/post/... returned nil because the request failed\n"
        "  - kv.get returned nil because the key does not exist\n"
        "Check the value before using it:\n"
        "  local v, err = f()\n"
        "  if err or not v then\n"
        '    return { statusCode = 500, body = err or "no value" }\n'
        "  end"
    ),
    "non_table_index": (
        "[TIP] You are indexing a non-table value (a string, number or boolean).\n"
        "  - only tables have fields: make sure the value is the table you expect\n"
        '  - check first: if type(v) == "table" then ... end\n'
        "  - a JSON string must be decoded with json.decode before reading its fields"
    ),
    "nil_call": (
        "[TIP] You are calling a function that doesn't exist (the value is nil).\n"
        "  - check the spelling of the function name (names are case-sensitive)\n"
        "  - define a function before the code that calls it runs\n"
        "  - check that the module function exists in the Lua API reference"
    ),
    "bad_argument": (
        "[TIP] Wrong type of argument passed to a function.\n"
        "  - check which type the function expects for that argument\n"
        "  - convert values with tostring(v) or tonumber(v)\n"
        "  - validate inputs (event.body, event.query, kv values) before using them"
    ),
    "syntax_error": (
        "[TIP] Lua syntax error.\n"
        "  - look for a missing comma, quote or parenthesis near the marked line\n"
        "  - tables are written { key = value, other = 2 }\n"
        "  - comparison is ==, assignment is =, not-equal is ~="
    ),
    "missing_end": (
        "[TIP] Missing 'end'.\n"
        "  - every function, if, for and while block needs its own end\n"
        "  - indent blocks consistently to see which one is not closed"
    ),
    "arithmetic_error": (
        "[TIP] Arithmetic needs numbers on both sides.\n"
        "  - convert strings with tonumber(v) (it returns nil when the text is not a number)\n"
        "  - check for nil first: local n = tonumber(v) or 0"
    ),
    "concat_error": (
        "[TIP] You tried to concatenate nil (or a table) with '..'.\n"
        "  - check values before using '..'\n"
        '  - wrap values that may be nil: tostring(v) or (v or "")'
    ),
    "compare_error": (
        "[TIP] You tried to compare values of different types.\n"
        "  - < and > only compare two numbers or two strings\n"
        "  - convert first with tonumber(v) or tostring(v)\n"
        "  - inspect a value's type with type(v)"
    ),
    "no_handler": (
        "[TIP] Your code must export a 'handler' function.\n"
        "  - add a top-level global function:\n"
        "      function handler(ctx, event)\n"
        '        return { statusCode = 200, body = "ok" }\n'
        "      end\n"
        "  - the name must be exactly handler, and it must not be declared local"
    ),
    "bad_return": (
        "[TIP] The handler must return a table.\n"
        '  - return { statusCode = 200, body = "..." }\n'
        '  - headers are optional: headers = { ["Content-Type"] = "text/plain" }'
    ),
}


def extract_line(raw: str) -> int:
    """The error's line number: `<string>:N:` first, then GopherLua's `<string> line:N`, else 0."""
    match = _LINE.search(raw) or _GOPHER_LINE.search(raw)
    return int(match.group(1)) if match else 0


def extract_column(raw: str) -> int:
    """The column of a GopherLua-style syntax error (`column:N`), else 0."""
    match = _COLUMN.search(raw)
    return int(match.group(1)) if match else 0


def code_context(source: str, line: int, column: int = 0, context_lines: int = 2) -> str:
    """Up to `context_lines` lines either side of `line`, each ending in a newline.

    Empty when the line is unknown (0) or past the end of the source. A known column adds a
    caret line under the error line.
    """
    lines = source.split("\n")
    if line <= 0 or line > len(lines):
        return ""
    first = max(1, line - context_lines)
    last = min(len(lines), line + context_lines)
    out: list[str] = []
    for number in range(first, last + 1):
        marker = "> " if number == line else "  "
        out.append(f"{marker}{number:>3} | {lines[number - 1]}\n")
        if number == line and column > 0:
            out.append(" " * (2 + 3 + 3 + column - 1) + "^\n")
    return "".join(out)


def classify(raw: str) -> ErrorClass:
    """The first §8.4 rule whose pattern occurs in `raw`, else "unknown"."""
    for pattern, error_class in _RULES:
        if pattern.search(raw):
            return error_class
    return "unknown"


def tip(error_class: ErrorClass) -> str:
    """The class's multi-line tip (first line starts with `[TIP]`); "" for unknown."""
    return _TIPS.get(error_class, "")


def strip_prefix(raw: str) -> str:
    """Remove the runtime's prefixes from the start only (handler first, then load)."""
    text = raw.removeprefix(HANDLER_PREFIX)
    return text.removeprefix(LOAD_PREFIX)


def enhance(raw: str, source: str) -> str:
    """The full enhanced text of one execution error (lua-runtime §8.6)."""
    line = extract_line(raw)
    message = strip_prefix(raw)
    head = f"Error at line {line}: {message}\n" if line > 0 else f"Error: {message}\n"
    parts = [head]
    context = code_context(source, line, extract_column(raw))
    if context:
        parts.append(f"\n[CODE]\n{context}[/CODE]\n")
    advice = tip(classify(raw))
    if advice:
        parts.append(f"\n{advice}")
    return "".join(parts)
