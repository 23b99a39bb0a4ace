"""router module (lua-runtime §6.12, §12 statements 75-85; function id `test-func`)."""

from __future__ import annotations

import pytest

from tests.worker.modules.conftest import Execution, World


@pytest.fixture
def router(world: World) -> Execution:
    return world.execution("test-func", base_url="http://localhost:8080")


def _matches(lua: Execution, pairs: list[tuple[str, str]]) -> list[bool]:
    calls = ", ".join(f'router.match("{path}", "{pattern}")' for path, pattern in pairs)
    result = lua.run(f"return {calls}")
    return list(result) if isinstance(result, tuple) else [result]


def test_s75_router_match_literals_and_params(router: Execution) -> None:
    pairs = [
        ("/", "/"),
        ("/users", "/users"),
        ("/users/list", "/users/list"),
        ("/users/42", "/users/:id"),
        ("/users/42/posts", "/users/:id/posts"),
        ("/users/42/posts/5", "/users/:userId/posts/:postId"),
        ("/42/profile", "/:id/profile"),
        ("/123", "/:id"),
        ("/a/b", "/:first/:second"),
        ("/profile/42", "/profile/:id"),
    ]
    assert _matches(router, pairs) == [True] * len(pairs)


def test_s76_router_match_wildcards(router: Execution) -> None:
    pairs = [
        ("/files/a", "/files/*"),
        ("/files/a/b/c", "/files/*"),
        ("/api/v1/users/list", "/api/*"),
        ("/anything/here", "/*"),
        ("/a/b/c/d/e/f", "/a/*"),
        ("/files/readme", "/files/*"),
    ]
    assert _matches(router, pairs) == [True] * len(pairs)


def test_s77_router_trailing_slashes(router: Execution) -> None:
    pairs = [("/users/", "/users"), ("/users", "/users/"), ("/users/", "/users/"), ("", "/")]
    assert _matches(router, pairs) == [True] * len(pairs)
    assert _matches(router, [("///a///b///", "/a/b")]) == [True]


def test_s78_router_segment_contents(router: Execution) -> None:
    pairs = [
        ("/users/john%20doe", "/users/:name"),
        ("/users/john-doe", "/users/:name"),
        ("/users/john_doe", "/users/:name"),
        ("/files/report.pdf", "/files/:filename"),
        ("/users/日本語", "/users/:name"),
        ("/users/0", "/users/:id"),
        ("/users/-1", "/users/:id"),
    ]
    assert _matches(router, pairs) == [True] * len(pairs)


def test_s79_router_non_matches(router: Execution) -> None:
    pairs = [
        ("/users", "/posts"),
        ("/users/42", "/users"),
        ("/users", "/users/42"),
        ("/users/42/extra", "/users/:id"),
        ("/files", "/files/*"),
        ("/:id", "/123"),
        ("/a/b/c", "/a/b"),
        ("/a", "/a/b"),
        ("/foo/bar", "/baz/qux"),
        ("/Users", "/users"),
    ]
    assert _matches(router, pairs) == [False] * len(pairs)


def test_s80_router_params(router: Execution) -> None:
    assert router.run('return router.params("/users/42", "/users/:id")') == {"id": "42"}
    assert router.run(
        'return router.params("/users/42/posts/5", "/users/:userId/posts/:postId")'
    ) == {"userId": "42", "postId": "5"}
    assert router.run('return router.params("/users/john-doe", "/users/:username")') == {
        "username": "john-doe"
    }


def test_s81_router_params_raw_values(router: Execution) -> None:
    assert router.run('return router.params("/users/john%20doe", "/users/:name")') == {
        "name": "john%20doe"
    }
    assert router.run('return router.params("/users/日本語", "/users/:name")') == {"name": "日本語"}
    assert router.run('return router.params("/items/0", "/items/:id")') == {"id": "0"}
    assert router.run('return router.params("/files/report.pdf", "/files/:filename")') == {
        "filename": "report.pdf"
    }


def test_s82_router_params_empty(router: Execution) -> None:
    assert router.run('return router.params("/users/42", "/posts/:id")') == {}
    assert router.run('return router.params("/users", "/users")') == {}
    assert router.run(
        'return router.match("/static/css/style.css", "/static/*"), '
        'next(router.params("/static/css/style.css", "/static/*"))'
    ) == (True, None)
    assert router.run('return router.params("/a/b", "/:x/:x")') == {"x": "b"}


def test_s83_router_path(router: Execution) -> None:
    assert router.run(
        'return router.path("/users"), router.path("/"), router.path("/users/:id", {id="42"}), '
        'router.path("/users/:userId/posts/:postId", {userId="123", postId="456"}), '
        'router.path("/users/:id")'
    ) == (
        "/fn/test-func/users",
        "/fn/test-func/",
        "/fn/test-func/users/42",
        "/fn/test-func/users/123/posts/456",
        "/fn/test-func/users/:id",
    )


def test_s84_router_url(world: World, router: Execution) -> None:
    assert router.run('return router.url("/users")') == "http://localhost:8080/fn/test-func/users"
    slash = world.execution("test-func", base_url="http://localhost:8080/")
    assert slash.run('return router.url("/users")') == "http://localhost:8080/fn/test-func/users"
    api = world.execution("test-func", base_url="https://api.example.com")
    assert api.run('return router.url("/users/:id", {id="42"})') == (
        "https://api.example.com/fn/test-func/users/42"
    )
    bare = world.execution("test-func", base_url="")
    assert bare.run('return router.url("/users")') == "/fn/test-func/users"


def test_s85_router_building_ignores_unknown(router: Execution) -> None:
    assert router.run(
        'return router.path("/users/:id", {id="123", extra="ignored"}), '
        'router.path("/users/:id", {other="value"}), router.path("/users/:id", {id=42}), '
        'router.path("/x/:id/:idx", {id="A", idx="B"}), router.path("/users/:id", "nope")'
    ) == (
        "/fn/test-func/users/123",
        "/fn/test-func/users/:id",
        "/fn/test-func/users/42",
        "/fn/test-func/x/A/B",
        "/fn/test-func/users/:id",
    )
