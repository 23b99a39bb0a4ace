"""The Lua side of the bridge: one generated chunk of thin wrappers, one per host function.

Each wrapper checks and coerces its arguments the way GopherLua does (lua-runtime §5.1),
calls `Bridge.call` through `pcall`, and shapes the result by the function's `ReturnStyle`
(§5.3); see `lunard.worker.modules.bridge` for the Python side and the calling convention.
"""

from __future__ import annotations

from collections.abc import Iterable

from lunard.worker.modules.bridge import ARG_KINDS, LuaFunction, ModuleSpec
from lunard.worker.modules.errors import NO_INTEGER, OUT_OF_MEMORY

# The messages errors.py defines, for the Lua checks below (plain ASCII, no quoting needed).
_CONSTANTS = f'local NO_INTEGER, OUT_OF_MEMORY = "{NO_INTEGER}", "{OUT_OF_MEMORY}"\n'

_PRELUDE = """
local F, G, N, E, D = ...
local type, error, format, tonumber, select = type, error, string.format, tonumber, select
local pcall = pcall
local floor, ceil = math.floor, math.ceil
-- Numbers at or past 2^63 (and below -2^63) have no int64 representation.
local IMAX = 2^63
-- What Bridge.call answers when the implementation raised (the text is pending in E).
local R = {}
-- The standard functions host Lua code loaded later (json's codec, on first use) takes,
-- as they are now, before user code runs (which may replace string.format & co).
local STD = {
  string = {
    byte = string.byte, char = string.char, find = string.find, format = string.format,
    sub = string.sub, match = string.match, gsub = string.gsub, rep = string.rep,
  },
  table = { concat = table.concat, sort = table.sort },
  math = { floor = math.floor, huge = math.huge, frexp = math.frexp },
  type = type, next = next, rawget = rawget, tonumber = tonumber, pcall = pcall,
  error = error,
}

local function bad(n, f, expected, v)
  return format("bad argument #%d to '%s' (%s expected, got %s)", n, f, expected, type(v))
end
-- Each checker is called by a wrapper only when the fast path failed; level 3 is the caller.
local function cs(v, n, f)
  if type(v) == "number" then return N(v) end
  error(bad(n, f, "string", v), 3)
end
local function cn(v, n, f)
  if type(v) == "string" then
    local x = tonumber(v)
    if x ~= nil then return x end
  end
  error(bad(n, f, "number", v), 3)
end
local function ci(v, n, f)
  if type(v) ~= "number" then error(bad(n, f, "number", v), 3) end
  if v ~= v or v >= IMAX or v < -IMAX then
    error(format("bad argument #%d to '%s' (%s)", n, f, NO_INTEGER), 3)
  end
  if v >= 0 then return floor(v) end
  return ceil(v)
end
local function ct(v, n, f)
  error(bad(n, f, "table", v), 3)
end
-- A call that did not return normally, raised as a Lua string at the caller's line: either
-- Bridge.call caught an exception (ok, v == R; the text is pending) or lupa failed before
-- it ran (not ok; v is what lupa raised, a Python object D describes, or a Lua string).
local function raise(ok, v, slot)
  local message = v
  if ok then
    message = E()
  elseif type(v) ~= "string" then
    local described, text = pcall(D, v, slot)
    -- D itself failing means Python could not even build a string: out of memory.
    message = (described and type(text) == "string") and text or OUT_OF_MEMORY
  end
  error(message, 3)
end
"""

_ARG_CHECKS = {
    "string": 'if type({a}) ~= "string" then {a} = cs({a}, {n}, "{f}") end',
    "number": 'if type({a}) ~= "number" then {a} = cn({a}, {n}, "{f}") end',
    "int": 'if type({a}) ~= "number" or {a} % 1 ~= 0 or {a} >= IMAX or {a} < -IMAX then '
    '{a} = ci({a}, {n}, "{f}") end',
    "optint": 'if {a} == nil then {a} = {d} elseif type({a}) ~= "number" or {a} % 1 ~= 0 '
    'or {a} >= IMAX or {a} < -IMAX then {a} = ci({a}, {n}, "{f}") end',
    "table": 'if type({a}) ~= "table" then ct({a}, {n}, "{f}") end',
    "opttable": 'if {a} ~= nil and type({a}) ~= "table" then ct({a}, {n}, "{f}") end',
    "raw": "",
}

# Every wrapper calls through pcall and checks for R first (see `raise`), then shapes the
# result by its ReturnStyle.
_CALL = "local ok, v = pcall(F, {args}) if not ok or v == R then raise(ok, v, {slot}) end\n"
_RETURNS = {
    "value": "return v",
    "value_or_raise": "if v == nil then local e = E() if e ~= nil then error(e, 2) end end "
    "return v",
    "none": "",
    "pair": "if v == nil then return nil, E() end return v, nil",
    "value_or_error": "if v == nil then local e = E() if e ~= nil then return nil, e end end "
    "return v",
}


def _wrapper_source(module: str, fn: LuaFunction, slot: int) -> str:
    names = [f"a{i + 1}" for i in range(len(fn.args))]
    if "any" in fn.args:
        head = f"function(...) local {', '.join(names)} = ...\n"
    else:
        head = f"function({', '.join(names)})\n"
    lines = [head]
    for index, kind in enumerate(fn.args):
        if kind not in ARG_KINDS:
            raise ValueError(f"{module}.{fn.name}: unknown argument kind {kind!r}")
        if kind == "any":
            lines.append(
                f'if select("#", ...) < {index + 1} then error(format('
                f"\"bad argument #{index + 1} to '{fn.name}' (value expected)\"), 2) end\n"
            )
            continue
        template = _ARG_CHECKS[kind]
        if template:
            default = fn.defaults.get(index, 0)
            lines.append(template.format(a=names[index], n=index + 1, f=fn.name, d=default) + "\n")
    if fn.check:
        lines.append(fn.check + "\n")
    call_args = ", ".join([str(slot), *names])
    lines.append(_CALL.format(args=call_args, slot=slot))
    lines.append(_RETURNS[fn.returns] + "\nend")
    return f'M["{fn.name}"] = {"".join(lines)}\n'


def generate_source(modules: Iterable[ModuleSpec]) -> str:
    """The Lua chunk that builds every module table and assigns the globals, in order.

    The chunk is called with (F, G, N, E, D) — see `Bridge.install`: F is `Bridge.call`,
    G the table receiving the globals, N formats numbers, E takes the pending failure, D
    describes a failed crossing. It returns R, the marker `Bridge.call` answers on failure,
    and STD, the standard functions host Lua loaded later takes, as they were before user
    code ran (see `Bridge.std`).
    """
    parts = [_CONSTANTS, _PRELUDE]
    index = 0
    for spec in modules:
        parts.append("do local M = {}\n")
        for fn in spec.functions:
            parts.append(_wrapper_source(spec.name, fn, index))
            index += 1
        parts.append(f'G["{spec.name}"] = M end\n')
    parts.append("return R, STD\n")
    return "".join(parts)
