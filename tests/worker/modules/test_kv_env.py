"""kv and env modules against the real state file (lua-runtime §12 statements 26-32)."""

from __future__ import annotations

from tests.worker.modules.conftest import Execution, World


def test_s26_kv_set_then_get(world: World, lua: Execution) -> None:
    body = lua.run('kv.set("key1", "value1") return "Retrieved: " .. kv.get("key1")')
    assert body == "Retrieved: value1"
    assert world.rows("SELECT function_id, key, value FROM kv_store") == [
        ("test-function", "key1", "value1")
    ]


def test_s27_kv_namespaces_are_separate(world: World) -> None:
    world.execution("function-1").run('kv.set("shared-key", "one")')
    world.execution("function-2").run('kv.set("shared-key", "two")')
    assert world.rows("SELECT function_id, value FROM kv_store ORDER BY function_id") == [
        ("function-1", "one"),
        ("function-2", "two"),
    ]
    assert world.execution("function-1").run('return kv.get("shared-key")') == "one"
    assert world.execution("function-3").run('return kv.get("shared-key")') is None


def test_s28_kv_missing_get_nil_delete_true(lua: Execution) -> None:
    assert lua.run('return kv.get("missing")') is None
    assert lua.run('return kv.delete("missing")') is True


def test_s29_kv_values_are_strings(lua: Execution) -> None:
    assert lua.run('kv.set("n", 5) local v = kv.get("n") return type(v), v') == ("string", "5")
    assert lua.run('kv.set(7, 2.5) return kv.get("7")') == "2.5"
    message = lua.error_of('kv.set("n", {})')
    assert message == "<string>:2: bad argument #2 to 'set' (string expected, got table)"
    assert "bad argument #1 to 'get'" in lua.error_of("kv.get(nil)")
    assert lua.run('return kv.get("n")') == "5"


def test_kv_set_overwrites_and_delete_removes(world: World, lua: Execution) -> None:
    assert lua.run('return kv.set("k", "a"), kv.set("k", "b"), kv.get("k")') == (True, True, "b")
    assert lua.run('return kv.delete("k"), kv.get("k")') == (True, None)
    assert world.rows("SELECT count(*) FROM kv_store") == [(0,)]


def test_kv_binary_and_empty_keys_round_trip(lua: Execution) -> None:
    assert lua.run('kv.set("", "empty") return kv.get("")') == "empty"
    assert lua.run(r'kv.set("bin", "\0\1\255") return kv.get("bin") == "\0\1\255"') is True


def test_s30_kv_global_namespace(world: World) -> None:
    a = world.execution("function-a")
    assert a.run('return kv.setGlobal("g", "1")') is True
    b = world.execution("function-b")
    assert b.run('return kv.getGlobal("g"), kv.get("g")') == ("1", None)
    assert b.run('return kv.setGlobal("", "x"), kv.getGlobal(""), kv.deleteGlobal("")') == (
        False,
        None,
        False,
    )
    assert world.rows("SELECT function_id, key, value FROM kv_store") == [("", "g", "1")]
    assert b.run('return kv.deleteGlobal("g"), kv.getGlobal("g")') == (True, None)


def test_s31_kv_list_keys_and_all(world: World, lua: Execution) -> None:
    assert lua.run("return kv.listKeys()") == {}
    assert lua.run("return kv.all()") == {}
    world.execution("other").run('kv.set("c", "3")')
    lua.run('kv.set("a", "1") kv.set("b", "2")')
    assert sorted(lua.run("return kv.listKeys()")) == ["a", "b"]
    assert lua.run("return kv.all()") == {"a": "1", "b": "2"}


def test_kv_list_and_all_global(lua: Execution) -> None:
    lua.run('kv.set("own", "x") kv.setGlobal("g1", "1") kv.setGlobal("g2", "2")')
    assert sorted(lua.run("return kv.listGlobalKeys()")) == ["g1", "g2"]
    assert lua.run("return kv.allGlobal()") == {"g1": "1", "g2": "2"}


def test_kv_store_error_gives_nil_and_false(world: World, lua: Execution) -> None:
    world.conn.execute("DROP TABLE kv_store")
    assert lua.run('return kv.get("a"), kv.set("a", "b"), kv.delete("a")') == (None, False, False)
    assert lua.run("return kv.listKeys(), kv.all()") == (None, None)


def test_s32_env_get(world: World) -> None:
    lua = world.execution(env={"API_KEY": "secret-123"})
    assert lua.run('return env.get("API_KEY"), env.get("UNSET")') == ("secret-123", None)


def test_env_set_and_delete_persist(world: World) -> None:
    lua = world.execution(env={"OLD": "1"})
    assert lua.run('return env.set("NEW", 42), env.get("NEW")') == (True, "42")
    assert lua.host.env == {"OLD": "1", "NEW": "42"}
    assert world.rows("SELECT function_id, key, value FROM env_vars") == [
        ("test-function", "NEW", "42")
    ]
    assert lua.run('return env.delete("NEW"), env.get("NEW")') == (True, None)
    assert world.rows("SELECT count(*) FROM env_vars") == [(0,)]
    assert "bad argument #2 to 'set'" in lua.error_of('env.set("A", nil)')


def test_env_invalid_utf8_value_stored_as_text(world: World) -> None:
    lua = world.execution()
    assert lua.run(r'return env.set("K", "a\255b"), env.get("K")') == (True, "a\ufffdb")
    assert world.rows("SELECT value FROM env_vars") == [("a\ufffdb",)]
