"""The SSRF guard inside the delivery loop: outside dev mode and without an allowlist, a
destination that is (or resolves to) a loopback address is given up at once, never contacted."""

from __future__ import annotations

import socket

import pytest

from tests.delivery.outbox_state import available_at, dead_letters_of, states_of
from wirepost.domain import State

HOOKS_NAME = "hooks.example.test"


class HostsResolver:
    """A stand-in for DNS that answers from a fixed table, like an /etc/hosts file."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [self.table[host]]


@pytest.fixture
def hosts() -> HostsResolver:
    return HostsResolver({HOOKS_NAME: "127.0.0.1"})


async def test_localhost_destination_is_refused_without_an_allowlist(
    pool, clock, make_settings, receiver, make_loop, publish
):
    settings = make_settings(destination_allowlist=(), dev=False)
    loop = await make_loop(settings)
    message = await publish(f"http://localhost:{receiver.port}/hook", max_retries=3)

    assert await loop.run_once(clock.now()) == 1

    assert receiver.requests == []
    assert await available_at(pool, message.id) is None
    [entry] = await dead_letters_of(pool, message.id)
    assert entry.response.status == 0
    assert entry.error is not None
    assert "loopback" in entry.error
    assert await states_of(pool, message.id) == [
        State.CREATED,
        State.ACTIVE,
        State.ERROR,
        State.FAILED,
    ]


async def test_localhost_destination_is_delivered_when_loopback_is_allowlisted(
    pool, clock, make_settings, receiver, make_loop, publish
):
    loop = await make_loop(make_settings(destination_allowlist=("127.0.0.0/8",)))
    message = await publish(f"http://localhost:{receiver.port}/hook")

    await loop.run_once(clock.now())

    assert [r.headers["Upstash-Message-Id"] for r in receiver.requests] == [message.id]


async def test_localhost_destination_is_delivered_in_dev_mode(
    clock, make_settings, receiver, make_loop, publish
):
    loop = await make_loop(make_settings(destination_allowlist=(), dev=True))
    await publish(f"http://localhost:{receiver.port}/hook")

    await loop.run_once(clock.now())

    assert len(receiver.requests) == 1


async def test_name_resolving_to_loopback_is_refused_after_resolution(
    pool, clock, make_settings, receiver, make_loop, publish, hosts
):
    settings = make_settings(destination_allowlist=(), dev=False)
    loop = await make_loop(settings, resolver=hosts)
    message = await publish(f"http://{HOOKS_NAME}:{receiver.port}/hook", max_retries=3)

    await loop.run_once(clock.now())

    assert hosts.asked == [HOOKS_NAME]  # the guard judged the resolved address
    assert receiver.requests == []
    [entry] = await dead_letters_of(pool, message.id)
    assert entry.error is not None
    assert "127.0.0.1" in entry.error
    assert "loopback" in entry.error


async def test_name_resolving_to_an_allowlisted_address_is_delivered(
    clock, make_settings, receiver, make_loop, publish, hosts
):
    settings = make_settings(destination_allowlist=("127.0.0.0/8",), dev=False)
    loop = await make_loop(settings, resolver=hosts)
    await publish(f"http://{HOOKS_NAME}:{receiver.port}/hook")

    await loop.run_once(clock.now())

    [got] = receiver.requests
    assert got.headers["Host"] == f"{HOOKS_NAME}:{receiver.port}"
