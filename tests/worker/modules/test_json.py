"""json module: Go-compatible encode/decode (lua-runtime §6.5, §12 statements 39-48)."""

from __future__ import annotations

import json

from tests.worker.modules.conftest import Execution


def test_s39_json_decode_object(lua: Execution) -> None:
    body = lua.run(
        """local d = json.decode('{"name": "Alice", "age": 30, "active": true}')
        return "Name: " .. d.name .. ", Age: " .. tostring(d.age)
          .. ", Active: " .. tostring(d.active)"""
    )
    assert body == "Name: Alice, Age: 30, Active: true"


def test_s40_json_encode_object_sorted(lua: Execution) -> None:
    text = lua.run('return json.encode({id=123, name="Bob", email="bob@example.com", admin=false})')
    assert text == '{"admin":false,"email":"bob@example.com","id":123,"name":"Bob"}'


def test_s41_json_array_round_trip(lua: Execution) -> None:
    text = lua.run(
        """local items = json.decode('["apple","banana","cherry"]')
        local out = {}
        for _, item in ipairs(items) do out[#out + 1] = "fruit: " .. item end
        return json.encode(out)"""
    )
    assert text == '["fruit: apple","fruit: banana","fruit: cherry"]'


def test_s42_json_nested(lua: Execution) -> None:
    text = lua.run(
        """local data = json.decode('{"user": {"name": "Charlie", "age": 25}, "items": [1, 2, 3]}')
        return json.encode({userName = data.user.name, userAge = data.user.age,
                            itemCount = #data.items})"""
    )
    assert json.loads(text) == {"userName": "Charlie", "userAge": 25, "itemCount": 3}
    assert text == '{"itemCount":3,"userAge":25,"userName":"Charlie"}'


def test_s43_json_decode_error(lua: Execution) -> None:
    value, err = lua.run("""return json.decode('{"invalid json')""")
    assert value is None
    assert err == "unexpected end of JSON input"


def test_s44_json_encode_basics(lua: Execution) -> None:
    assert lua.run(
        "return json.encode({}), json.encode({1,2,3}), json.encode(nil), json.encode(3.14), "
        'json.encode("hello")'
    ) == ("{}", "[1,2,3]", "null", "3.14", '"hello"')


def test_s45_json_mixed_table_keeps_string_keys(lua: Execution) -> None:
    assert lua.run("return json.encode({1,2,3, n=3})") == '{"n":3}'


def test_s46_json_decode_null_empty_and_errors(lua: Execution) -> None:
    assert lua.run('return select("#", json.decode("null")), json.decode("null")') == (1, None)
    assert lua.run('local t = json.decode("[]") return type(t), next(t)') == ("table", None)
    value, err = lua.run('return json.decode("not json")')
    assert value is None and err == "invalid character 'o' in literal null (expecting 'u')"
    value, err = lua.run("""return json.decode('{"key":')""")
    assert value is None and err == "unexpected end of JSON input"
    assert lua.run('return json.decode("")') == (None, "unexpected end of JSON input")
    assert lua.run('return json.decode("[1] x")') == (
        None,
        "invalid character 'x' after top-level value",
    )


def test_s47_json_encode_nan_unsupported(lua: Execution) -> None:
    assert lua.run("return json.encode(0/0)") == (None, "json: unsupported value: NaN")
    assert lua.run("return json.encode({x = 1/0})") == (None, "json: unsupported value: +Inf")
    assert lua.run("return json.encode(-1/0)") == (None, "json: unsupported value: -Inf")


def test_s48_json_html_escaping(lua: Execution) -> None:
    assert lua.run('return json.encode({a="<b>"})') == '{"a":"\\u003cb\\u003e"}'
    assert lua.run(r'return json.encode("a&b\"\\\n\r\t\1")') == r'"a\u0026b\"\\\n\r\t\u0001"'
    assert lua.run(r'return json.encode("\226\128\168 ok \255 é")') == '"\\u2028 ok \\ufffd é"'


def test_json_numbers_go_format(lua: Execution) -> None:
    assert lua.run(
        "return json.encode({2^53, 1e20, 1e21, 1e-7, 0.000001, 1.5e21, -0.5, 123456789.125})"
    ) == ("[9007199254740992,100000000000000000000,1e+21,1e-7,0.000001,1.5e+21,-0.5,123456789.125]")


def test_json_sparse_arrays(lua: Execution) -> None:
    assert lua.run('return json.encode({[0]="a", [1]="b"})') == '["b"]'
    assert lua.run('return json.encode({[1.5]="x"})') == "[null]"
    assert lua.run('return json.encode({[1]="a", [3]="c"})') == '["a",null,"c"]'
    assert lua.run('return json.encode({[-1]="a"})') == "{}"
    assert lua.run("return json.encode({print, true})") == "[null,true]"


def test_json_cycle_is_an_error(lua: Execution) -> None:
    value, err = lua.run("local t = {} t.self = t return json.encode(t)")
    assert value is None
    assert err == "json: unsupported value: encountered a cycle"


def test_json_decode_shapes(lua: Execution) -> None:
    assert lua.run(
        """local t = json.decode('{"a":null,"b":[1,null,3],"c":{"d":"e"},"n":1e2}')
        return t.a, t.b[1], t.b[2], t.b[3], t.c.d, tostring(t.n), next(t, nil) ~= nil"""
    ) == (None, 1, None, 3, "e", "100", True)
    assert lua.run(r'return json.decode([["\u00e9\ud83d\ude00 \ud800"]])') == "é😀 \ufffd"
    assert lua.run('return json.decode(" 42 ")') == 42


def test_json_argument_checks(lua: Execution) -> None:
    assert (
        lua.error_of("json.encode()") == "<string>:2: bad argument #1 to 'encode' (value expected)"
    )
    assert "bad argument #1 to 'decode' (string expected, got table)" in lua.error_of(
        "json.decode({})"
    )


def test_codec_ignores_string_and_table_functions_replaced_by_user_code(lua: Execution) -> None:
    # The Lua codec is loaded with the modules, before user code: it keeps the originals.
    text = lua.run(
        """string.format = function() return "!" end
        string.byte, string.sub, string.char = nil, nil, nil
        table.concat, table.sort = function() return "?" end, function() end
        local back = json.decode('{"b":[1,2.5,"x"],"a":"<"}')
        return json.encode({z = 1e21, a = back.a, b = back.b, n = -0.000001})"""
    )
    assert text == '{"a":"\\u003c","b":[1,2.5,"x"],"n":-0.000001,"z":1e+21}'
