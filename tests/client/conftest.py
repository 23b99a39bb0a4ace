"""Fixtures: one daemon for the whole package (every test makes its own functions, so they
do not disturb each other), and `lunar` pointed at it with the admin key, config in tmp."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.client.helpers import Lunar, clean_env
from tests.daemon import Daemon, start_daemon


@pytest.fixture(scope="package")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """The daemon every client test talks to."""
    d = start_daemon(tmp_path_factory.mktemp("client-daemon") / "data")
    yield d
    d.stop()


@pytest.fixture(scope="module")
def lunar(daemon: Daemon, tmp_path_factory: pytest.TempPathFactory) -> Lunar:
    """The CLI with LUNAR_SERVER and LUNAR_TOKEN (the admin key) set."""
    home = tmp_path_factory.mktemp("config")
    return Lunar(clean_env(home, LUNAR_SERVER=daemon.url, LUNAR_TOKEN=daemon.api_key))


@pytest.fixture
def anonymous(daemon: Daemon, tmp_path_factory: pytest.TempPathFactory) -> Lunar:
    """The CLI with the server but no token at all (empty config dir)."""
    home = tmp_path_factory.mktemp("config")
    return Lunar(clean_env(home, LUNAR_SERVER=daemon.url))


@pytest.fixture(scope="module")
def cli(lunar: Lunar) -> Lunar:
    """The same CLI and environment, called in-process through Click's CliRunner."""
    return lunar.runner()
