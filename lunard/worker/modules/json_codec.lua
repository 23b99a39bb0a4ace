-- json.encode / json.decode inside LuaJIT (lua-runtime §6.5), byte-identical to the Python
-- reference in lunard/worker/modules/json.py (Go's encoding/json rules, via lunard.gojson).
--
-- Loaded once per Lua state by json_lua.py, on the state's first json call, with the
-- standard library as it was before user code ran (the modules chunk's snapshot: user code
-- may have replaced string.format & co by then); loaded alone, the globals are used.
-- Returns (encode, decode):
--   encode(value)  -> JSON text, or nil when the Python reference must answer instead
--   decode(text)   -> true, value; or false when the Python reference must answer instead
-- "Must answer instead" covers every failure (so error messages and their precedence are
-- the reference's own) and the rare inputs this file does not reproduce exactly (floats
-- that are powers of two needing 16+ digits, lone surrogates, invalid UTF-8 in JSON text,
-- nulls in arrays, duplicate keys with null, nesting past MAX_DEPTH).
-- Only locals captured at load time are used (no global is read after the lines below);
-- nothing here is reachable from user code.

local std = ... or _G
local string, table, math = std.string, std.table, std.math
local byte, char, find, format, sub, match, gsub, rep =
  string.byte, string.char, string.find, string.format, string.sub, string.match,
  string.gsub, string.rep
local concat, sort = table.concat, table.sort
local type, next, rawget, tonumber, pcall, error =
  std.type, std.next, std.rawget, std.tonumber, std.pcall, std.error
local floor, huge, frexp = math.floor, math.huge, math.frexp

local MAX_DEPTH = 200          -- gojson.MAX_DEPTH: deeper nesting is reported as a cycle
local SPARSE_LIMIT = 2 ^ 20    -- json.SPARSE_LIMIT
local EXACT = 2 ^ 53
local NEG_ZERO = -1 / huge
local MIN_NORMAL = 2 ^ -1022
local FALLBACK = {}            -- error value: let the Python reference answer

-- ------------------------------------------------------------------------- encoding

local ESC = {}
for c = 0, 31 do ESC[c] = format("\\u%04x", c) end
ESC[10], ESC[13], ESC[9] = "\\n", "\\r", "\\t"
ESC[34], ESC[92] = '\\"', "\\\\"
ESC[60], ESC[62], ESC[38] = "\\u003c", "\\u003e", "\\u0026"

local SPECIAL = '[%z\1-\31"\\<>&\128-\255]'

-- Length of the valid UTF-8 sequence starting at byte i (lead byte c), 0 when invalid.
local function utf8_width(s, i, c)
  if c < 0xC2 or c > 0xF4 then return 0 end
  local c2 = byte(s, i + 1)
  if c2 == nil or c2 < 0x80 or c2 > 0xBF then return 0 end
  if c < 0xE0 then return 2 end
  if (c == 0xE0 and c2 < 0xA0) or (c == 0xED and c2 > 0x9F) then return 0 end
  local c3 = byte(s, i + 2)
  if c3 == nil or c3 < 0x80 or c3 > 0xBF then return 0 end
  if c < 0xF0 then return 3 end
  if (c == 0xF0 and c2 < 0x90) or (c == 0xF4 and c2 > 0x8F) then return 0 end
  local c4 = byte(s, i + 3)
  if c4 == nil or c4 < 0x80 or c4 > 0xBF then return 0 end
  return 4
end

-- A JSON string literal for s whose first special byte is at i (gojson.quote).
local function quote_slow(s, i)
  local out, m, start = { '"' }, 1, 1
  while i do
    local c = byte(s, i)
    local piece, width = nil, 1
    if c < 128 then
      piece = ESC[c]
    else
      width = utf8_width(s, i, c)
      if width == 0 then
        piece, width = "\\ufffd", 1
      elseif width == 3 and c == 0xE2 and byte(s, i + 1) == 0x80 then
        local c3 = byte(s, i + 2)
        if c3 == 0xA8 then piece = "\\u2028" elseif c3 == 0xA9 then piece = "\\u2029" end
      end
    end
    if piece ~= nil then
      if i > start then m = m + 1; out[m] = sub(s, start, i - 1) end
      m = m + 1; out[m] = piece
      start = i + width
    end
    i = find(s, SPECIAL, i + width)
  end
  if start <= #s then m = m + 1; out[m] = sub(s, start) end
  out[m + 1] = '"'
  return concat(out)
end

-- Go's text for a finite number from the "%.Ne" form s (gojson.format_number).
local function go_number(s, x)
  local sign, lead, frac, e = match(s, "^(%-?)(%d)%.(%d*)e([-+]%d+)$")
  frac = gsub(frac, "0+$", "")
  local exp10 = tonumber(e)
  local ax = x < 0 and -x or x
  if ax < 1e-6 or ax >= 1e21 then
    local mantissa = frac ~= "" and (lead .. "." .. frac) or lead
    local esign = exp10 < 0 and "-" or "+"
    return sign .. mantissa .. "e" .. esign .. format("%d", exp10 < 0 and -exp10 or exp10)
  end
  local digits = lead .. frac
  local nd = #digits
  if exp10 >= nd - 1 then return sign .. digits .. rep("0", exp10 - nd + 1) end
  if exp10 >= 0 then
    return sign .. sub(digits, 1, exp10 + 1) .. "." .. sub(digits, exp10 + 2)
  end
  return sign .. "0." .. rep("0", -exp10 - 1) .. digits
end

-- Shortest round-trip digits: for a normal double, 15 significant digits are the shortest
-- form whenever any form of at most 15 digits exists; the nearest 16-digit form is the
-- shortest 16-digit one except next to a power of two (asymmetric rounding interval).
-- Those and subnormals (less precision) are left to Python.
local function number_text(x)
  if x ~= x or x == huge or x == -huge then error(FALLBACK) end
  if x == 0 then return "0" end
  if x == floor(x) and x > -EXACT and x < EXACT then return format("%d", x) end
  if x < MIN_NORMAL and x > -MIN_NORMAL then error(FALLBACK) end
  local s = format("%.14e", x)
  if tonumber(s) ~= x then
    local m = frexp(x)
    if m == 0.5 or m == -0.5 then error(FALLBACK) end
    s = format("%.15e", x)
    if tonumber(s) ~= x then s = format("%.16e", x) end
  end
  return go_number(s, x)
end

local buf, n, keycache, keys

local encode_value

local function sort_keys(base, count)
  if count > 24 then
    local slice = {}
    for j = 1, count do slice[j] = keys[base + j] end
    sort(slice)
    for j = 1, count do keys[base + j] = slice[j] end
    return
  end
  for j = base + 2, base + count do
    local k = keys[j]
    local h = j - 1
    while h > base and keys[h] > k do
      keys[h + 1] = keys[h]
      h = h - 1
    end
    keys[h + 1] = k
  end
end

local function key_text(k)
  local text = keycache[k]
  if text == nil then
    local i = find(k, SPECIAL)
    text = (i and quote_slow(k, i) or ('"' .. k .. '"')) .. ":"
    keycache[k] = text
  end
  return text
end

local function encode_object(t, depth, base)
  local count = 0
  for k in next, t do
    if type(k) == "string" then
      count = count + 1
      keys[base + count] = k
    end
  end
  sort_keys(base, count)
  n = n + 1; buf[n] = "{"
  for j = 1, count do
    local k = keys[base + j]
    if j > 1 then n = n + 1; buf[n] = "," end
    n = n + 1; buf[n] = key_text(k)
    encode_value(rawget(t, k), depth, base + count)
  end
  n = n + 1; buf[n] = "}"
end

-- lua_to_python's classification: all keys numbers and a positive largest (truncated) key.
local function encode_table(t, depth, base)
  if depth >= MAX_DEPTH then error(FALLBACK) end
  local largest, count = 0, 0
  for k in next, t do
    if type(k) ~= "number" then
      return encode_object(t, depth + 1, base)
    end
    count = count + 1
    if k >= 1 and k ~= huge then
      local whole = floor(k)
      if whole > largest then largest = whole end
    end
  end
  if largest == 0 then return encode_object(t, depth + 1, base) end
  if largest > SPARSE_LIMIT and largest > 16 * count then error(FALLBACK) end
  n = n + 1; buf[n] = "["
  for i = 1, largest do
    if i > 1 then n = n + 1; buf[n] = "," end
    encode_value(rawget(t, i), depth + 1, base)
  end
  n = n + 1; buf[n] = "]"
end

encode_value = function(v, depth, base)
  local tv = type(v)
  if tv == "string" then
    local i = find(v, SPECIAL)
    if i == nil then
      buf[n + 1] = '"'; buf[n + 2] = v; buf[n + 3] = '"'
      n = n + 3
    else
      n = n + 1; buf[n] = quote_slow(v, i)
    end
  elseif tv == "number" then
    n = n + 1; buf[n] = number_text(v)
  elseif tv == "boolean" then
    n = n + 1; buf[n] = v and "true" or "false"
  elseif tv == "table" then
    encode_table(v, depth, base)
  else
    n = n + 1; buf[n] = "null"
  end
end

local function encode_all(v)
  encode_value(v, 0, 0)
  return concat(buf, "", 1, n)
end

local function encode(v)
  buf, n, keycache, keys = {}, 0, {}, {}
  local ok, text = pcall(encode_all, v)
  buf, keycache, keys = nil, nil, nil
  if ok then return text end
  if text == FALLBACK then return nil end
  error(text, 0)
end

-- ------------------------------------------------------------------------- decoding

local src

local function fail() error(FALLBACK) end

local function skip(i)
  local c = byte(src, i)
  while c == 32 or c == 10 or c == 13 or c == 9 do
    i = i + 1
    c = byte(src, i)
  end
  return i, c
end

local function hex4(i)
  local h = sub(src, i, i + 3)
  if #h ~= 4 or find(h, "[^0-9a-fA-F]") then fail() end
  return tonumber(h, 16)
end

local function utf8_char(cp)
  if cp < 0x80 then return char(cp) end
  if cp < 0x800 then return char(0xC0 + floor(cp / 64), 0x80 + cp % 64) end
  if cp < 0x10000 then
    return char(0xE0 + floor(cp / 4096), 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
  end
  return char(0xF0 + floor(cp / 262144), 0x80 + floor(cp / 4096) % 64,
    0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
end

local UNESCAPE = {
  [34] = '"', [92] = "\\", [47] = "/", [98] = "\b", [102] = "\f", [110] = "\n",
  [114] = "\r", [116] = "\t",
}
local STRING_SPECIAL = '["\\%z\1-\31\128-\255]'

-- An escape at i (the backslash): its text and the index after it.
local function unescape(i)
  local e = byte(src, i + 1)
  local plain = UNESCAPE[e]
  if plain ~= nil then return plain, i + 2 end
  if e ~= 117 then fail() end
  local cp = hex4(i + 2)
  if cp >= 0xD800 and cp <= 0xDFFF then
    if cp > 0xDBFF or sub(src, i + 6, i + 7) ~= "\\u" then fail() end
    local low = hex4(i + 8)
    if low < 0xDC00 or low > 0xDFFF then fail() end
    return utf8_char(0x10000 + (cp - 0xD800) * 1024 + (low - 0xDC00)), i + 12
  end
  return utf8_char(cp), i + 6
end

-- The string whose text starts at i (after the quote), with its first special byte at j.
local function string_slow(i, j)
  local out, m, start = {}, 0, i
  while true do
    if j == nil then fail() end
    local c = byte(src, j)
    if c == 34 then
      m = m + 1; out[m] = sub(src, start, j - 1)
      return concat(out), j + 1
    elseif c == 92 then
      m = m + 1; out[m] = sub(src, start, j - 1)
      local text
      text, start = unescape(j)
      m = m + 1; out[m] = text
      j = start
    elseif c < 32 then
      fail()
    else
      local width = utf8_width(src, j, c)
      if width == 0 then fail() end
      j = j + width
    end
    j = find(src, STRING_SPECIAL, j)
  end
end

local function parse_string(i)
  local j = find(src, STRING_SPECIAL, i)
  if j ~= nil and byte(src, j) == 34 then return sub(src, i, j - 1), j + 1 end
  return string_slow(i, j)
end

local function digit_run(j)
  local c = byte(src, j)
  while c and c >= 48 and c <= 57 do
    j = j + 1
    c = byte(src, j)
  end
  return j, c
end

-- A number in Python's JSON grammar; the value is float(text), as gojson._parse_number.
local function parse_number(i, c)
  local j, negative = i, false
  if c == 45 then
    negative = true
    j = j + 1
    c = byte(src, j)
  end
  if c == 48 then
    j = j + 1
    c = byte(src, j)
  elseif c and c >= 49 and c <= 57 then
    j, c = digit_run(j + 1)
  else
    fail()
  end
  if c == 46 then
    c = byte(src, j + 1)
    if not c or c < 48 or c > 57 then fail() end
    j, c = digit_run(j + 1)
  end
  if c == 101 or c == 69 then
    j = j + 1
    c = byte(src, j)
    if c == 43 or c == 45 then j = j + 1; c = byte(src, j) end
    if not c or c < 48 or c > 57 then fail() end
    j, c = digit_run(j)
  end
  local x = tonumber(sub(src, i, j - 1))
  if x == nil or x == huge or x == -huge then fail() end
  if x == 0 and negative then x = NEG_ZERO end
  return x, j
end

local parse_value

local function parse_array(i, depth)
  local t, count = {}, 0
  local c
  i, c = skip(i)
  if c == 93 then return t, i + 1 end
  while true do
    local v
    v, i = parse_value(i, c, depth)
    if v == nil then fail() end
    count = count + 1
    t[count] = v
    i, c = skip(i)
    if c == 93 then return t, i + 1 end
    if c ~= 44 then fail() end
    i, c = skip(i + 1)
  end
end

local function parse_object(i, depth)
  local t, nulls = {}, nil
  local c
  i, c = skip(i)
  if c == 125 then return t, i + 1 end
  while true do
    if c ~= 34 then fail() end
    local k, v
    k, i = parse_string(i + 1)
    i, c = skip(i)
    if c ~= 58 then fail() end
    i, c = skip(i + 1)
    v, i = parse_value(i, c, depth)
    if v == nil then
      -- Python drops null members after the last duplicate wins: only a first, unique
      -- null can simply be skipped here.
      if t[k] ~= nil then fail() end
      nulls = nulls or {}
      nulls[k] = true
    else
      if nulls ~= nil and nulls[k] then fail() end
      t[k] = v
    end
    i, c = skip(i)
    if c == 125 then return t, i + 1 end
    if c ~= 44 then fail() end
    i, c = skip(i + 1)
  end
end

parse_value = function(i, c, depth)
  if c == 34 then return parse_string(i + 1) end
  if c == 123 then
    if depth >= MAX_DEPTH then fail() end
    return parse_object(i + 1, depth + 1)
  end
  if c == 91 then
    if depth >= MAX_DEPTH then fail() end
    return parse_array(i + 1, depth + 1)
  end
  if c == 116 and sub(src, i, i + 3) == "true" then return true, i + 4 end
  if c == 102 and sub(src, i, i + 4) == "false" then return false, i + 5 end
  if c == 110 and sub(src, i, i + 3) == "null" then return nil, i + 4 end
  return parse_number(i, c)
end

local function decode_all(text)
  src = text
  local i, c = skip(1)
  local value
  value, i = parse_value(i, c, 0)
  i, c = skip(i)
  if c ~= nil then fail() end
  return value
end

local function decode(text)
  local ok, value = pcall(decode_all, text)
  src = nil
  if ok then return true, value end
  if value == FALLBACK then return false end
  error(value, 0)
end

return encode, decode
