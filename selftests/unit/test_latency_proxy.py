"""The sandbox's delaying proxy on real loopback sockets: each new connection waits the added latency,
then bytes pass untouched both ways (large ones too, with back-pressure), a half-close is passed on,
an unreachable upstream closes the client's connection, and every slot is given back."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time

from publik_sandbox.latency import tcp_handler

DELAY = 0.05


async def _echo_upstream() -> tuple[asyncio.Server, int]:
    """Answers each connection with the SHA-256 of everything it received, once the client half-closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        digest = hashlib.sha256()
        while chunk := await reader.read(65536):
            digest.update(chunk)
        writer.write(digest.hexdigest().encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _ask(port: int, body: bytes) -> bool:
    """Send `body` through the proxy, half-close, and whether the upstream's answer is its digest."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(body)
    await writer.drain()
    writer.write_eof()  # the upstream answers only once it sees the end: the half-close must pass
    answer = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    return answer.decode() == hashlib.sha256(body).hexdigest()


async def _proxy(upstream_port: int, slots: asyncio.Semaphore) -> tuple[asyncio.Server, int]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(tcp_handler(("127.0.0.1", upstream_port), DELAY, slots), "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_bytes_pass_untouched_after_the_delay_and_a_half_close_is_passed_on() -> None:
    async def scenario() -> None:
        upstream, upstream_port = await _echo_upstream()
        slots = asyncio.Semaphore(8)
        proxy, port = await _proxy(upstream_port, slots)
        payload = os.urandom(8 * 1024 * 1024)  # far more than the transports buffer: back-pressure works
        started = time.monotonic()
        assert await _ask(port, payload)
        assert time.monotonic() - started >= DELAY
        await asyncio.sleep(0.05)
        assert slots._value == 8, "a finished connection gives its slot back"
        proxy.close()
        upstream.close()

    asyncio.run(scenario())


def test_many_connections_at_once_each_get_their_own_answer() -> None:
    async def scenario() -> None:
        upstream, upstream_port = await _echo_upstream()
        slots = asyncio.Semaphore(4)  # fewer slots than connections: the rest wait their turn
        proxy, port = await _proxy(upstream_port, slots)

        assert all(await asyncio.gather(*(_ask(port, f"request {i}".encode() * 100) for i in range(20))))
        await asyncio.sleep(0.05)
        assert slots._value == 4
        proxy.close()
        upstream.close()

    asyncio.run(scenario())


def test_an_unreachable_upstream_closes_the_clients_connection() -> None:
    async def scenario() -> None:
        upstream, upstream_port = await _echo_upstream()
        upstream.close()
        await upstream.wait_closed()  # nothing listens on that port any more
        slots = asyncio.Semaphore(2)
        proxy, port = await _proxy(upstream_port, slots)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # Closed, not left hanging (a client that had sent bytes meanwhile would see a reset instead).
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()
        await asyncio.sleep(0.05)
        assert slots._value == 2
        proxy.close()

    asyncio.run(scenario())
