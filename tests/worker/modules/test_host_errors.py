"""Host functions never hand Python objects or Python wording to Lua (issue 9).

The fuzz enumerates every host function from the live globals of a real sandbox (whatever
a sealed state without the modules lacks), so a new function is covered without touching
this file, and calls each one with hostile values in every argument position. Only strings,
numbers, booleans, nil and tables may come back, as results or as pcall error values, and no
text may read like Python.

Network: `http`, `ai` and `email` reach a fake server on 127.0.0.1 (the URL is one of the
fuzz values, and the env points the providers at it); the HTTP client refuses any other host
and records the attempt, which fails the test.
"""

from __future__ import annotations

import builtins
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import lupa.luajit21 as lupa
import pytest

from lunard.worker.http_client import OutboundClient
from tests.fakes import FakeServer, Reply, anthropic_reply, openai_reply, resend_reply
from tests.worker.modules.conftest import DEFAULT_LIMITS, SANDBOX, Execution, World

PYTHON_WORDING = (
    *sorted(
        name
        for name, value in vars(builtins).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    ),
    "LuaError",
    "LuaMemoryError",
    "object has no attribute",
    "NoneType",
    "Traceback",
    "object is not subscriptable",
    "object is not iterable",
    "object is not callable",
    "not supported between instances",
    "unsupported operand",
    "positional argument",
    "invalid literal for",
    " object at 0x",
    "<class '",
    "'float'",
    "'str'",
    "'dict'",
    "'list'",
    "'tuple'",
    "int()",
    "float()",
    "codec can't",
    "lupa",
    "<python>",
    "stack traceback",
    # Bridge.call's answer to an exception it did not expect: a bug the fuzz must report.
    "internal error",
)
"""Text that must never appear in what Lua receives: Python's exception class names and
phrasing, lupa's chunk name and tracebacks."""


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _lua_list(items: list[str] | tuple[str, ...]) -> str:
    return "{" + ", ".join(_lua_string(item) for item in items) + "}"


# The driver runs as user code inside one execution per host function. It returns the
# problems it found (at most 50), the number of calls made, and how many of them raised.
# MODULE, NAME, URL, WORDS and EXTRA are filled in by `_driver`.
_DRIVER = r"""
local MODULE, NAME, URL, WORDS, EXTRA = %(module)s, %(name)s, %(url)s, %(words)s, %(extra)s
local f = _G[MODULE][NAME]
local find, sub, format, rep = string.find, string.sub, string.format, string.rep
local select, next, pcall, type, tostring = select, next, pcall, type, tostring

-- The hostile values, labelled for the report. Finite numbers between about 1e3 and 2^63
-- only come in the EXTRA pass, whose deadline has passed: time.sleep would wait for it.
local V, L, n = {}, {}, 0
local function add(label, value) n = n + 1; V[n] = value; L[n] = label end

local huge = rep("x", 256 * 1024)
local deep = {}
do local t = deep for _ = 1, 300 do t[1] = {}; t = t[1] end end
local cyclic = {}
cyclic[1] = cyclic; cyclic.self = cyclic; cyclic.list = {cyclic}
local dead = coroutine.create(function() end)
coroutine.resume(dead)

local scalars = {}
local function scalar(label, value) add(label, value); scalars[#scalars + 1] = {label, value} end
if EXTRA then
  scalar("2^31", 2^31) scalar("2^53", 2^53) scalar("2^62", 2^62) scalar("-2^62", -2^62)
  scalar("1e15+0.5", 1e15 + 0.5) scalar('"2^62"', "4611686018427387904")
else
  add("nil", nil)
  scalar("true", true) scalar("false", false) scalar("0", 0) scalar("-1", -1)
  scalar("0.5", 0.5) scalar("-2.5", -2.5) scalar("inf", 1/0) scalar("-inf", -1/0)
  scalar("nan", 0/0) scalar("2^63", 2^63) scalar("-2^63", -2^63) scalar("1e308", 1e308)
  scalar('""', "") scalar('"a"', "a") scalar('"1"', "1") scalar('"0x10"', "0x10")
  scalar('"1e300"', "1e300") scalar('"nan"', "nan") scalar('"-inf"', "-inf")
  scalar("bytes", "\0\255\254\192\128") scalar("huge string", huge) scalar('"%%ZZ"', "%%ZZ")
  scalar('"://x"', "://x") scalar("url", URL) scalar("pattern", "/users/:id/*")
  scalar("layout", "2006-01-02T15:04:05.000Z07:00 Mon Jan _2 PM MST")
  scalar("{}", {}) scalar("array", {1, 2, 3})
  scalar("mixed", {1, "a", x = true, [1.5] = 2, [-1] = 3, [2^53] = 4, [true] = 5, [1/0] = 6})
  scalar("sparse", {[1e9] = 1}) scalar("deep", deep) scalar("cyclic", cyclic)
  scalar("function", function() end) scalar("C function", string.len)
  scalar("raising function", function() error("fuzz: inner") end)
  scalar("coroutine", coroutine.create(function() end)) scalar("dead coroutine", dead)
  scalar("raising __index", setmetatable({}, {__index = function() error("fuzz: index") end}))
  scalar("error-object __index", setmetatable({}, {__index = function() error({}) end}))
end

-- Option tables: every field http, ai and email read set to one hostile value, once with
-- the other fields valid enough that the call reaches the fake server.
for _, pair in ipairs(scalars) do
  local label, w = pair[1], pair[2]
  add("fields = " .. label, {
    headers = w, query = w, body = w, provider = w, model = w, messages = w, endpoint = w,
    max_tokens = w, temperature = w, from = w, to = w, subject = w, text = w, html = w,
    cc = w, bcc = w, reply_to = w, tags = w, scheduled_at = w,
  })
  add("openai with " .. label, {
    provider = "openai", model = "m", endpoint = URL, max_tokens = w, temperature = w,
    messages = {{role = "user", content = "hi"}, {role = w, content = w}, w},
    headers = {["X-A"] = w, [2] = w}, query = {q = w, [1] = w}, body = w,
    from = "a@example.com", to = {"b@example.com", w}, subject = "s", text = "t", html = w,
    cc = w, bcc = {w}, reply_to = w, tags = {w, {name = w, value = w}, {name = "n", value = w}},
    scheduled_at = w,
  })
  add("anthropic with " .. label, {
    provider = "anthropic", model = w, endpoint = URL, max_tokens = 10,
    messages = {{role = "system", content = w}, {role = "user", content = "hi"}},
    from = "a@example.com", to = w, subject = w, text = w,
  })
end

local FILLERS = {1, {}, URL}

local function banned(s)
  if #s == 0 then return "an empty string" end
  for i = 1, #WORDS do
    if find(s, WORDS[i], 1, true) then
      return "text containing " .. WORDS[i] .. ": " .. sub(s, 1, 200)
    end
  end
end

-- Strings already found clean (kv.all answers the same big values again and again).
local clean = {}
local function problem_of(v, seen, depth)
  local t = type(v)
  if t == "number" or t == "boolean" or t == "nil" then return nil end
  if t == "string" then
    if clean[v] or #v == 0 then return nil end
    -- random's ids and strings are random letters and digits: "lupa" turns up by chance.
    if MODULE == "random" and find(v, "^[%%w%%-]*$") then return nil end
    local p = banned(sub(v, 1, 65536))
    if p == nil then clean[v] = true end
    return p
  end
  if t ~= "table" then return "a " .. t .. " value" end
  if seen[v] or depth > 20 then return nil end
  seen[v] = true
  for k, x in next, v do
    local p = problem_of(k, seen, depth + 1) or problem_of(x, seen, depth + 1)
    if p then return p end
  end
end

local problems, calls, raised = {}, 0, 0
local function report(args, count, what)
  if #problems >= 50 then return end
  local shown = {}
  for i = 1, count do
    local a = args[i]
    shown[i] = type(a) == "string" and #a > 40 and ("<" .. #a .. " bytes>") or tostring(a)
  end
  local where = format("%%s.%%s(%%s)", MODULE, NAME, table.concat(shown, ", "))
  problems[#problems + 1] = where .. ": " .. what
end

local function check(args, count, ok, ...)
  calls = calls + 1
  if not ok then
    raised = raised + 1
    local e = ...
    if type(e) ~= "string" then return report(args, count, "raised a " .. type(e) .. " value") end
    local p = banned(e)
    if p then return report(args, count, "raised " .. p) end
    local form = "^bad argument #%%d+ to '" .. NAME .. "' %%(.+%%)$"
    if find(e, "bad argument", 1, true) and not find(e, form) then
      return report(args, count, "raised a malformed argument error: " .. e)
    end
    return
  end
  for i = 1, select("#", ...) do
    local p = problem_of((select(i, ...)), {}, 0)
    if p then return report(args, count, "returned " .. p) end
  end
end

local function call(args, count)
  check(args, count, pcall(f, unpack(args, 1, count)))
end

call({}, 0)
for position = 1, 4 do
  for i = 1, n do
    for _, filler in ipairs(FILLERS) do
      local args = {filler, filler, filler, filler}
      args[position] = V[i]
      call(args, 4)
    end
    -- The same value as the last argument given: later ones are absent, not nil.
    local short = {1, 1, 1}
    short[position] = V[i]
    call(short, position)
  end
end
return problems, calls, raised
"""


def _driver(module: str, name: str, url: str, *, extra: bool) -> str:
    return _DRIVER % {
        "module": _lua_string(module),
        "name": _lua_string(name),
        "url": _lua_string(url),
        "words": _lua_list(PYTHON_WORDING),
        "extra": "true" if extra else "false",
    }


def host_functions(world: World) -> list[tuple[str, str]]:
    """(module, function) for every function of every global table a sealed sandbox
    without the host modules does not have."""
    bare = SANDBOX.new_runtime(DEFAULT_LIMITS.max_memory_bytes)
    SANDBOX.seal(bare)
    standard = set(bare.globals())
    live = world.execution().lua.globals()
    found: list[tuple[str, str]] = []
    for module, table in live.items():
        if module in standard or lupa.lua_type(table) != "table":
            continue
        found.extend(
            (str(module), str(name))
            for name, fn in table.items()
            if lupa.lua_type(fn) == "function"
        )
    return sorted(found)


class LoopbackOnly(httpx.BaseTransport):
    """A transport that reaches 127.0.0.1 and refuses (and records) every other host.

    A URL without a host ("0", "/x") goes to the real transport, which refuses it itself
    with the message the worker would give.
    """

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.refused: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host not in ("127.0.0.1", ""):
            self.refused.append(str(request.url))
            raise httpx.ConnectError("the fuzz only talks to 127.0.0.1", request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class LoopbackOutbound(OutboundClient):
    """The worker's client interface over `LoopbackOnly`."""

    def __init__(self) -> None:
        super().__init__()
        self.transport = LoopbackOnly()
        self._loopback = httpx.Client(transport=self.transport, trust_env=False)

    def get(self) -> httpx.Client:
        return self._loopback

    def close(self) -> None:
        self._loopback.close()


@pytest.fixture
def sandbox_world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, "sandbox")
    yield w
    w.close()


class PromptServer(FakeServer):
    """FakeServer without Nagle's algorithm: its head and body go out as two writes, and
    the client's delayed ACK then costs ~40 ms per request (hundreds of them here)."""

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        handler = super()._handler_class()
        handler.disable_nagle_algorithm = True
        return handler


@pytest.fixture
def provider() -> Iterator[FakeServer]:
    """One loopback server answering as OpenAI, Anthropic, Resend and any plain URL."""
    server = PromptServer(
        {
            "/": Reply(200, "ok", {"X-Reply": "1"}),
            "/chat/completions": openai_reply(),
            "/v1/messages": anthropic_reply(),
            "/emails": resend_reply(),
        }
    )
    yield server
    server.close()


def _fuzz_env(url: str) -> dict[str, str]:
    return {
        "OPENAI_API_KEY": "k",
        "ANTHROPIC_API_KEY": "k",
        "RESEND_API_KEY": "k",
        "OPENAI_ENDPOINT": url,
        "ANTHROPIC_ENDPOINT": url,
        "RESEND_BASE_URL": url + "/",
    }


def test_fuzz_every_host_function_gives_lua_values_only(
    sandbox_world: World, provider: FakeServer
) -> None:
    functions = host_functions(sandbox_world)
    modules = {module for module, _ in functions}
    assert modules == {
        "log", "kv", "env", "http", "json", "base64", "crypto", "time", "url", "strings",
        "random", "router", "ai", "email",
    }  # fmt: skip
    assert len(functions) >= 64  # lua-runtime §6: 57 functions + 7 [NEWER] kv ones
    assert ("random", "int") in functions and ("kv", "allGlobal") in functions
    outbound = LoopbackOutbound()
    problems: list[str] = []
    calls = raised = 0
    try:
        for module, name in functions:
            for extra, timeout in ((False, 60.0), (True, -1.0)):
                execution = sandbox_world.execution(
                    function_id=f"fuzz-{module}-{name}",
                    env=_fuzz_env(provider.url),
                    timeout=timeout,
                    outbound=outbound,
                )
                found, made, failed = execution.run(
                    _driver(module, name, provider.url, extra=extra)
                )
                # No problems is an empty Lua table, which converts to {}.
                problems.extend(found.values() if isinstance(found, dict) else found)
                calls += made
                raised += failed
    finally:
        outbound.close()
    assert problems == []
    assert outbound.transport.refused == []
    # The fuzz did reach the implementations and the fake providers.
    assert calls > 50_000
    assert 0 < raised < calls
    paths = {request.path for request in provider.requests}
    assert {"/", "/chat/completions", "/v1/messages", "/emails"} <= paths


# --------------------------------------------------------------------------- measured cases


def test_random_int_with_infinite_max_raises_a_lua_string(lua: Execution) -> None:
    assert lua.run("local ok, e = pcall(random.int, 0, 1/0) return ok, type(e), e") == (
        False,
        "string",
        "bad argument #2 to 'int' (number has no integer representation)",
    )


_INTEGER_ARGUMENTS = [
    ("random.int(V, 1)", 1, "int"),
    ("random.int(0, V)", 2, "int"),
    ("random.string(V)", 1, "string"),
    ("random.bytes(V)", 1, "bytes"),
    ("random.hex(V)", 1, "hex"),
    ('strings["repeat"]("a", V)', 2, "repeat"),
    ('strings.replace("a", "a", "b", V)', 4, "replace"),
    ('time.format(V, "2006")', 1, "format"),
    ("time.sleep(V)", 1, "sleep"),
]
_NOT_INTEGERS = ["1/0", "-1/0", "0/0", "2^63", "-2^63 - 2^11"]


@pytest.mark.parametrize(
    ("call", "position", "name", "value"),
    [
        *((*argument, value) for argument in _INTEGER_ARGUMENTS for value in _NOT_INTEGERS),
        # `number` arguments also take numeric strings, checked the same way.
        ('time.format(V, "2006")', 1, "format", '"1e300"'),
        ("time.sleep(V)", 1, "sleep", '"-inf"'),
    ],
)
def test_integer_arguments_need_an_integer_representation(
    lua: Execution, call: str, position: int, name: str, value: str
) -> None:
    message = lua.error_of(call.replace("V", value))
    assert message == (
        f"<string>:2: bad argument #{position} to '{name}' (number has no integer representation)"
    )


def test_integer_arguments_take_the_whole_int64_range(lua: Execution) -> None:
    assert lua.run("return random.int(-2^63, -2^63)") == -(2**63)
    assert lua.run("return random.int(2^63 - 2^10, 2^63 - 2^10)") == 2**63 - 2**10
    assert lua.run('return time.format(-2^63, "2006") ~= nil') is True


def test_random_string_too_long_is_an_argument_error(lua: Execution) -> None:
    assert lua.error_of("random.string(2^62)") == (
        "<string>:2: bad argument #1 to 'string' (length too large, got 4611686018427387904)"
    )


def test_time_sleep_past_the_deadline_raises_the_timeout(world: World) -> None:
    execution = world.execution(timeout=-1.0)
    assert execution.run("return pcall(time.sleep, 10)") == (False, "context deadline exceeded")


def test_a_raising_metamethod_reaches_lua_as_its_own_message(lua: Execution) -> None:
    code = """local options = setmetatable({}, {__index = function(_, key)
      error("no field " .. key, 0) end})
    local ok1, e1 = pcall(email.send, options)
    local ok2, e2 = pcall(http.get, "http://127.0.0.1:1", options)
    return ok1, e1, ok2, e2"""
    assert lua.run(code) == (False, "no field to", False, "no field query")


_MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, resource, sqlite3
    from lunard.messages import HttpEvent, Job, JobLimits
    from lunard.worker.runtime import run_job

    CODE = '''function handler()
      local big = "[" .. string.rep("[0,0],", 5000000) .. "[0]]"
      local ok, err = pcall(json.decode, big)
      return {body = json.encode({ok = ok, type = type(err), err = err, size = #big})}
    end'''

    def vm_size():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmSize in /proc/self/status")

    job = Job(
        execution_id="exec-memory", function_id="f", function_name="f", version_id="v",
        version_number=1, code=CODE, env={}, started_at=0, base_url="", timeout_s=60.0,
        event=HttpEvent(method="GET", path="/", relative_path="/", headers={}, query={}, body=b""),
        limits=JobLimits(max_memory_bytes=256 << 20, max_log_entries=10, max_log_bytes=1 << 16,
                         http_max_response_bytes=1 << 16),
    )
    state = sqlite3.connect(":memory:")
    # As the worker does (--address-space-mb): Lua's own cap is not reached, Python's is.
    limit = vm_size() + (300 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    result = run_job(job, state)
    print(json.dumps({"error": result.error, "body": result.response.body.decode()}))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc, sets RLIMIT_AS")
def test_python_memory_error_in_json_decode_is_not_enough_memory() -> None:
    """A 30 MB array of arrays fits Lua's cap but not the worker's address space: the
    Python MemoryError inside json.decode ends that call with `not enough memory`."""
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["error"] is None
    assert json.loads(outcome["body"]) == {
        "ok": False,
        "type": "string",
        "err": "not enough memory",
        "size": 30_000_005,
    }
