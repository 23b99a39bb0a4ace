"""The error enhancer: lua-runtime §8, acceptance statements 108–124."""

from __future__ import annotations

from pathlib import Path

import pytest

from lunard.messages import HttpEvent, Job, JobLimits
from lunard.state.db import StateStore, connect
from lunard.worker.enhancer import classify, code_context, enhance, extract_line, tip
from lunard.worker.runtime import run_job

HTTP_GET_SOURCE = "\n".join(
    [
        "function handler(ctx, event)",
        '  local response = http.get("https://example.com")',
        "",
        "  if response.statusCode == 200 then",
        "    return { statusCode = 200 }",
        "  end",
        "end",
    ]
)

SEVEN_LINES = "\n".join(f"line {n}" for n in range(1, 8))


def _source(lines: dict[int, str], total: int = 7) -> str:
    return "\n".join(lines.get(n, f"-- line {n}") for n in range(1, total + 1))


def test_108_nil_index_with_http_get_source() -> None:
    raw = (
        "failed to execute handler: <string>:4: attempt to index a non-table object(nil) "
        "with key 'statusCode'"
    )
    out = enhance(raw, HTTP_GET_SOURCE)
    assert "line 4" in out
    assert "if response.statusCode == 200 then" in out
    assert "[TIP]" in out
    assert not out.startswith("failed to execute handler")
    assert out.startswith("Error at line 4: <string>:4: attempt to index")


def test_109_nil_call() -> None:
    source = _source({4: "  local result = processData(data)"})
    out = enhance("<string>:4: attempt to call a nil value (global 'processData')", source)
    assert "line 4" in out
    assert "local result = processData(data)" in out
    assert "function that doesn't exist" in out


def test_109_nil_call_luajit_wording() -> None:
    source = _source({4: "  local result = processData(data)"})
    out = enhance("<string>:4: attempt to call global 'processData' (a nil value)", source)
    assert "function that doesn't exist" in out


def test_110_bad_argument() -> None:
    source = _source({4: "  local r = math.sqrt(x)"})
    out = enhance("<string>:4: bad argument #1 to 'sqrt' (number expected, got string)", source)
    assert "line 4" in out
    assert "Wrong type" in out


def test_111_unexpected_symbol_is_syntax_error() -> None:
    out = enhance("<string>:3: unexpected symbol near 'return'", _source({}))
    assert "syntax error" in out
    assert "Lua syntax" in out


def test_112_missing_end() -> None:
    out = enhance("<string>:5: 'end' expected (to close 'if' at line 2) near '<eof>'", _source({}))
    assert "Missing 'end'" in out


def test_113_arithmetic_on_nil() -> None:
    source = _source({4: "  local newCount = count + 1"})
    out = enhance(
        "<string>:4: attempt to perform arithmetic on a nil value (local 'count')", source
    )
    assert "line 4" in out
    assert "newCount = count + 1" in out


def test_114_concatenate_nil() -> None:
    out = enhance("<string>:4: attempt to concatenate a nil value (local 'name')", _source({}))
    assert "concatenate nil" in out


def test_115_non_table_index() -> None:
    for raw in (
        "<string>:4: attempt to index a non-table value (a string value)",
        "<string>:4: attempt to index a non-table object(a string value) with key 'timeout'",
    ):
        assert "non-table" in enhance(raw, _source({}))
        assert classify(raw) == "non_table_index"


def test_116_no_handler() -> None:
    out = enhance("handler function not found in Lua code", "local x = 1")
    assert "export a 'handler' function" in out
    assert out.startswith("Error: ")
    assert "[CODE]" not in out


def test_117_compare() -> None:
    out = enhance("<string>:5: attempt to compare string with number", _source({}))
    assert "compare" in out.split("\n", 1)[1]  # in the tip, not only in the echoed error


def test_118_nil_index_luajit_local() -> None:
    source = "function handler(ctx, event)\n  return data.value\nend"
    out = enhance("<string>:2: attempt to index a nil value (local 'data')", source)
    assert "line 2" in out
    assert "return data.value" in out


def test_119_gopher_syntax_error_with_column_caret() -> None:
    source = _source({6: "  if x = y then"}, total=8)
    out = enhance("<string> line:6(column:9) near '=': syntax error", source)
    assert "line 6" in out
    assert "if x = y then" in out
    assert "syntax error" in out
    assert "[TIP]" in out
    lines = out.split("\n")
    error_row = next(i for i, row in enumerate(lines) if row.startswith(">   6 | "))
    assert lines[error_row + 1] == " " * 16 + "^"


def test_120_line_extraction() -> None:
    assert extract_line("<string>:7: some error") == 7
    assert extract_line("<string>:123: another error") == 123
    assert extract_line("<string>:1: oops") == 1
    assert extract_line("<string> line:42(column:10) near 'end': syntax error") == 42
    assert extract_line("error without line number") == 0
    assert extract_line("") == 0


def test_121_code_context() -> None:
    around_4 = code_context(SEVEN_LINES, 4, context_lines=1)
    assert "> " in around_4
    assert "line 3" in around_4 and "line 4" in around_4 and "line 5" in around_4
    assert "line 2" not in around_4 and "line 6" not in around_4
    assert ">   4 | line 4\n" in around_4
    assert "line 1" in code_context(SEVEN_LINES, 1, context_lines=2)
    assert "line 7" in code_context(SEVEN_LINES, 7, context_lines=2)
    assert code_context(SEVEN_LINES, 0) == ""
    assert code_context(SEVEN_LINES, 100) == ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("attempt to index a non-table object(nil)", "nil_index"),
        ("attempt to index a non-table value", "non_table_index"),
        ("attempt to call a nil value", "nil_call"),
        ("bad argument #1 expected string got number", "bad_argument"),
        ("unexpected symbol near '='", "syntax_error"),
        ("'end' expected to close 'if'", "missing_end"),
        ("attempt to perform arithmetic on nil", "arithmetic_error"),
        ("attempt to concatenate a nil value", "concat_error"),
        ("attempt to compare string with number", "compare_error"),
        ("handler function not found in Lua code", "no_handler"),
        ("handler did not return a table", "bad_return"),
        ("some unknown error", "unknown"),
        # LuaJIT's own wordings
        ("<string>:2: attempt to index local 'data' (a nil value)", "nil_index"),
        ("<string>:4: attempt to call global 'processData' (a nil value)", "nil_call"),
        (
            "<string>:4: attempt to perform arithmetic on local 'count' (a nil value)",
            "arithmetic_error",
        ),
        ("<string>:4: attempt to concatenate local 'name' (a nil value)", "concat_error"),
        ("<string>:2: '=' expected near 'is'", "syntax_error"),
        ("<string>:1: '}' expected (to close '{' at line 1) near 'return'", "syntax_error"),
        ("<string>:3: attempt to index field 'x' (a number value)", "non_table_index"),
        ("<string>:7: context deadline exceeded", "unknown"),
    ],
)
def test_122_classification(raw: str, expected: str) -> None:
    assert classify(raw) == expected


def test_122_traceback_lines_cannot_complete_a_match() -> None:
    assert classify("attempt to call\nnil") == "unknown"


@pytest.mark.parametrize(
    "error_class",
    [
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
    ],
)
def test_123_every_class_but_unknown_has_a_tip(error_class: str) -> None:
    text = tip(error_class)  # type: ignore[arg-type]
    assert text.startswith("[TIP]")


def test_123_unknown_has_no_tip() -> None:
    assert tip("unknown") == ""
    assert "[TIP]" not in enhance("some unknown error", "x")


def test_123_tip_phrases() -> None:
    assert "must return a table" in tip("bad_return")
    assert "Lua syntax" in tip("syntax_error") and "syntax error" in tip("syntax_error")


def test_enhanced_text_layout() -> None:
    out = enhance(
        "failed to load Lua code: <string>:2: unexpected symbol near '='", "a\nb = = 1\nc"
    )
    head, rest = out.split("\n", 1)
    assert head == "Error at line 2: <string>:2: unexpected symbol near '='"
    assert rest.startswith("\n[CODE]\n    1 | a\n>   2 | b = = 1\n    3 | c\n[/CODE]\n\n[TIP]")
    assert not out.endswith("\n")


def test_124_end_to_end_nil_index(tmp_path: Path) -> None:
    job = Job(
        execution_id="exec-124",
        function_id="fn",
        function_name="f",
        version_id="ver_fn_v1",
        version_number=1,
        code="function handler() local t = nil; return t.x end",
        env={},
        event=HttpEvent(
            method="GET", path="/fn/fn", relative_path="/", headers={}, query={}, body=b""
        ),
        started_at=0,
        base_url="",
        timeout_s=5,
        limits=JobLimits(
            max_memory_bytes=32 << 20,
            max_log_entries=100,
            max_log_bytes=1 << 16,
            http_max_response_bytes=1 << 20,
        ),
    )
    state = connect(StateStore.open(tmp_path).path)
    result = run_job(job, state)
    assert result.error is not None
    assert result.error.startswith("Error at line 1:")
    assert "[CODE]" in result.error and "[/CODE]" in result.error and "[TIP]" in result.error
