"""A fresh, sandboxed LuaJIT state for one execution (lua-runtime §4.2, DECISIONS 1–3).

`new_runtime` builds the bare state; the runtime installs the host modules into it and then
calls `seal`, which strips what user code must not reach and returns the *runner*: a Lua
function that loads the user's code, calls `handler` in protected mode and flattens the
returned table (lua-runtime §1 steps 4–7, §2.4 raw reads). Doing that in Lua keeps the
per-call crossings between Python and Lua to a handful.

What user code keeps: the base library minus the items below, `string` (minus `dump`),
`table`, `math`, `coroutine`, `bit`, and from `os` only `time`, `clock`, `date`,
`difftime`. Removed: `io`, the rest of `os`, `require`, `package`, `module`, `debug`,
`dofile`, `loadfile`, `string.dump`, `ffi` (only reachable through `require`), `jit`,
`newproxy`, and the `python` global lupa creates. `load`/`loadstring` accept text only.

Choices (DECISIONS "choose what a careful user would expect"):
- `print` goes to `log.debug` when the log module is installed (so output is visible in the
  execution's logs instead of vanishing into the worker's stdout), else it does nothing.
- `collectgarbage` keeps `"count"`, `"collect"` and `"step"` (harmless inside a private
  state, and common in ported code); anything that tunes or stops the collector raises.
- No instruction-count hook: LuaJIT never calls it inside compiled traces, and with the
  JIT on it still costs about 85% on interpreted code. The pool's hard kill is the timeout.
- User chunks are not cached: a function value belongs to one lua_State, and compiling
  a handler costs a few microseconds. Only lunard's own chunks are precompiled.

Strings cross the bridge with the `lunard-lua` codec (UTF-8 with surrogateescape): text
arrives in Python as ordinary `str`, and arbitrary bytes survive the round trip. Host code
that needs the raw bytes of a Lua string uses `lua_bytes(value)`.
"""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING, Any

from lupa import luajit21

if TYPE_CHECKING:
    from typing_extensions import Buffer

LUA_ENCODING = "lunard-lua"
CHUNK_NAME = "=<string>"

# Python attribute names Lua may never read or write on a Python object handed to it (host
# functions): dunder/private names lead to __globals__, __subclasses__ and so to the whole
# interpreter; frame and code attributes do the same through generators and tracebacks.
_BLOCKED_ATTRIBUTES = frozenset(
    {
        "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code",
        "f_globals", "f_locals", "f_builtins", "f_back", "f_code",
        "tb_frame", "tb_next", "func_globals", "func_code", "mro",
    }
)  # fmt: skip


def _encode(text: str, errors: str = "strict") -> tuple[bytes, int]:
    return codecs.utf_8_encode(text, "surrogateescape")


def _decode(data: Buffer, errors: str = "strict") -> tuple[str, int]:
    return codecs.utf_8_decode(data, "surrogateescape", True)


def _search_codec(name: str) -> codecs.CodecInfo | None:
    # codecs normalises the name: "lunard-lua" arrives as "lunard_lua".
    if name not in ("lunard_lua", LUA_ENCODING):
        return None
    return codecs.CodecInfo(_encode, _decode, name=LUA_ENCODING)


codecs.register(_search_codec)


def lua_bytes(value: str | bytes) -> bytes:
    """The raw bytes of a Lua string received in Python (inverse of the bridge codec)."""
    if isinstance(value, bytes):
        return value
    return value.encode("utf-8", "surrogateescape")


def _attribute_filter(obj: object, name: Any, is_setting: bool) -> Any:
    if not isinstance(name, str) or name.startswith("_") or name in _BLOCKED_ATTRIBUTES:
        raise AttributeError("access denied")
    return name


# Runs once per state after the host modules are installed. Everything the runner needs is
# captured as an upvalue first, so user code that overwrites globals (`type = nil`) cannot
# break the engine, and nothing removed here stays reachable (upvalues need `debug`).
_SEAL_LUA = r"""
local G = _G
local type, tostring, tonumber = type, tostring, tonumber
local select, next, rawget, error = select, next, rawget, error
local xpcall = xpcall
local concat = table.concat
local raw_load = load
local raw_collect = collectgarbage
local traceback = debug.traceback
local os = os

-- Text chunks only: mode "t" makes LuaJIT refuse bytecode ("\27Lua...") whatever the
-- caller asks for, for strings and reader functions alike.
local function text_load(chunk, chunkname, mode, env)
  if env == nil then
    return raw_load(chunk, chunkname, "t")
  end
  return raw_load(chunk, chunkname, "t", env)
end

local log_debug = nil
local log = rawget(G, "log")
if type(log) == "table" then
  log_debug = rawget(log, "debug")
end

local function print_to_log(...)
  if log_debug == nil then
    return
  end
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do
    parts[i] = tostring((select(i, ...)))
  end
  log_debug(concat(parts, "\t"))
end

local allowed_collect = { count = true, collect = true, step = true }
local function limited_collect(opt, arg)
  if opt == nil then
    opt = "collect"
  end
  if not allowed_collect[opt] then
    error("collectgarbage: option '" .. tostring(opt) .. "' is not available", 2)
  end
  return raw_collect(opt, arg)
end

-- new_runtime stopped the collector while the state was being built (everything made
-- until now stays alive); from here on it runs as usual.
raw_collect("restart")

G.io = nil
G.require = nil
G.package = nil
G.module = nil
G.debug = nil
G.dofile = nil
G.loadfile = nil
G.newproxy = nil
G.jit = nil
G.ffi = nil
G.python = nil
G.os = { time = os.time, clock = os.clock, date = os.date, difftime = os.difftime }
G.load = text_load
G.loadstring = function(s, chunkname) return text_load(s, chunkname) end
G.collectgarbage = limited_collect
G.print = print_to_log
string.dump = nil
-- GopherLua parity shims (lua-runtime §11.4).
math.mod = math.fmod
string.gfind = string.gmatch

-- A string error keeps its text; anything else (error({...})) is shown with tostring.
local function describe(err)
  if type(err) ~= "string" then
    local ok, text = xpcall(tostring, function() return nil end, err)
    err = ok and text or "(error object is a " .. type(err) .. " value)"
  end
  return traceback(err, 2)
end

-- Builds ctx and event here from plain arguments: one call across the bridge instead of a
-- table_from per table. `nh` header pairs then the query pairs follow as varargs; ctx
-- values that are nil stay absent keys (lua-runtime §2.1).
--
-- Returns (kind, ...):
--   "load", message            the chunk failed to compile or its top level raised
--   "nohandler"                 no global function `handler`
--   "handler", message         handler raised
--   "notable"                   handler returned something else than a table
--   "ok", status, body, headers(flat k,v list), isBase64Encoded
local function run(code, executionId, functionId, startedAt, version, baseUrl, functionName,
                   requestId, method, path, relativePath, body, nh, ...)
  local ctx = {
    executionId = executionId, functionId = functionId, startedAt = startedAt,
    version = version, baseUrl = baseUrl, functionName = functionName, requestId = requestId,
  }
  local headers, query = {}, {}
  local n = select("#", ...)
  local pairs_in = { ... }
  for i = 1, nh * 2, 2 do
    headers[pairs_in[i]] = pairs_in[i + 1]
  end
  for i = nh * 2 + 1, n, 2 do
    query[pairs_in[i]] = pairs_in[i + 1]
  end
  local event = {
    method = method, path = path, relativePath = relativePath, body = body,
    headers = headers, query = query,
  }
  local chunk, err = raw_load(code, "=<string>", "t")
  if chunk == nil then
    return "load", err
  end
  local ok, res = xpcall(chunk, describe)
  if not ok then
    return "load", res
  end
  local handler = G.handler
  if type(handler) ~= "function" then
    return "nohandler"
  end
  ok, res = xpcall(handler, describe, ctx, event)
  if not ok then
    return "handler", res
  end
  if type(res) ~= "table" then
    return "notable"
  end
  -- Raw reads (§2.4): metatables of the returned table are ignored.
  local status = rawget(res, "statusCode")
  local st = type(status)
  if st == "string" then
    status = tonumber(status) or 0
  elseif st ~= "number" and st ~= "nil" then
    status = 0
  end
  local body = rawget(res, "body")
  local bt = type(body)
  if bt ~= "string" and bt ~= "number" then
    body = ""
  end
  local flat, n = {}, 0
  local headers = rawget(res, "headers")
  if type(headers) == "table" then
    for k, v in next, headers do
      local kt, vt = type(k), type(v)
      flat[n + 1] = (kt == "string" or kt == "number") and k or ""
      flat[n + 2] = (vt == "string" or vt == "number") and v or ""
      n = n + 2
    end
  end
  local b64 = rawget(res, "isBase64Encoded")
  return "ok", status, body, flat, (b64 ~= nil and b64 ~= false)
end

return run
"""


def bytecode(source: str | bytes, name: str | bytes = "=lunard") -> bytes:
    """LuaJIT bytecode of one of lunard's own chunks (the seal, the host modules, json's
    codec), compiled by LuaJIT itself in a scratch state; callers compile once per process.

    Parsing a chunk in every fresh state is slow (~140 µs for the seal on a new state);
    loading our own bytecode costs ~35 µs. It comes from LuaJIT's own compiler in this
    process, so loading it is as safe as parsing the text; user code is never loaded this
    way.
    """
    scratch = luajit21.LuaRuntime(register_eval=False, register_builtins=False, encoding=None)
    dump = scratch.eval("function(src, name) return string.dump(assert(loadstring(src, name))) end")
    as_bytes = [text.encode() if isinstance(text, str) else text for text in (source, name)]
    return bytes(dump(*as_bytes))


_SEAL_BYTECODE = bytecode(_SEAL_LUA)
_STOP_COLLECTOR = bytecode('collectgarbage("stop")')


def new_runtime(max_memory_bytes: int) -> Any:
    """A bare LuaJIT state (standard libraries, JIT on) capped at `max_memory_bytes`
    (0: no cap yet; `set_max_memory` sets one later, counting what is used by then).

    Host modules go in next; then `seal` must be called before any user code runs. Until
    then Lua's collector is stopped: all that is built before user code stays alive, so
    collecting while the state grows (several cycles in a new state) would be wasted work;
    `seal` restarts it.
    """
    lua = luajit21.LuaRuntime(
        register_eval=False,
        register_builtins=False,
        # host functions answer `nil, err` as a Python tuple
        unpack_returned_tuples=True,
        encoding=LUA_ENCODING,
        attribute_filter=_attribute_filter,
        max_memory=max(0, max_memory_bytes),
    )
    lua.execute(_STOP_COLLECTOR, mode="b")
    return lua


def seal(lua: Any) -> Any:
    """Strip the state down to the sandbox and return the runner (see module docstring).

    The runner is called as `runner(code, <ctx values>, <event values>, n_headers,
    *header_pairs, *query_pairs)` (see `_SEAL_LUA`; `lunard.worker.runtime` is its one
    caller) and returns a tuple whose first item is the outcome kind: "load", "nohandler",
    "handler", "notable" or "ok".
    """
    return lua.execute(_SEAL_BYTECODE, mode="b")
