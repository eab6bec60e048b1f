"""The client against a real `activitylog serve --demo` on loopback, started through the CLI."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from activitylog.client import AsyncClient, Client
from tests.e2e.conftest import RunningServer, StartServer, start_server  # noqa: F401

DOMAIN = "ExampleIdentityDomain"
USER = "joe@example.com"
PASSWORD = "joePassword"
POLL_INTERVAL = 0.02


@pytest.fixture
def server(start_server: StartServer) -> RunningServer:  # noqa: F811 - the re-exported fixture
    return start_server("--demo", "--db", "x.db", "--demo-step-delay", "0.05")


@pytest.fixture
def client(server: RunningServer) -> Iterator[Client]:
    with Client(
        server.url,
        user=USER,
        password=PASSWORD,
        identity_domain=DOMAIN,
        poll_interval=POLL_INTERVAL,
    ) as opened:
        yield opened


@pytest.fixture
async def async_client(server: RunningServer) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(
        server.url,
        user=USER,
        password=PASSWORD,
        identity_domain=DOMAIN,
        poll_interval=POLL_INTERVAL,
    ) as opened:
        yield opened


@pytest.fixture
def service_name() -> Callable[[], str]:
    """A factory of service names no other call in this test has used."""
    counter = itertools.count(1)
    return lambda: f"Cache{next(counter)}"
