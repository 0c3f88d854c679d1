"""A delaying proxy: L ms on every new TCP connection to the frontends and on every DNS answer.

Real platforms are reached over a network where each new connection and each DNS answer costs a
round trip; on loopback they cost nothing, which hides what concurrency and connection reuse buy.
With `latency_ms` set, this process takes the frontends' and the resolver's public addresses and
the real servers move behind it (Network.hidden_*). `tc netem` on lo is not used on purpose: it
would slow SSH and PostgreSQL too, which a remote platform's preflight does not see that way.

- TCP: the connection is accepted, held for L ms, then spliced to the upstream (bytes untouched,
  TLS end to end). Once open, a connection costs no more: reusing one is what saves time.
- UDP (DNS): each query is forwarded at once; the answer is held for L ms before it goes back.

Bounded: at most MAX_TCP connections and MAX_UDP queries in flight (more wait or are dropped, as
a saturated link would), idle connections end after IDLE_TIMEOUT, and it binds only the sandbox's
loopback addresses. Settings come from the runtime file (`sandbox.json`, key `latency`).

Run: `python -m publik_sandbox.latency <state_dir>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import signal
import sys
from pathlib import Path

MAX_TCP = 2048
MAX_UDP = 1024
IDLE_TIMEOUT = 600.0
UDP_TIMEOUT = 5.0
CHUNK = 65536


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF, then pass the half-close on (TLS close_notify and HTTP bodies rely on it)."""
    try:
        while True:
            data = await asyncio.wait_for(reader.read(CHUNK), IDLE_TIMEOUT)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (TimeoutError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()


def tcp_handler(upstream: tuple[str, int], delay: float, slots: asyncio.Semaphore):
    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        async with slots:
            try:
                await asyncio.sleep(delay)
                try:
                    up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(*upstream), 5)
                except (TimeoutError, OSError):
                    return  # as an unreachable server: the client sees the connection closed
                try:
                    await asyncio.gather(_pipe(client_reader, up_writer), _pipe(up_reader, client_writer))
                finally:
                    up_writer.close()
            finally:
                client_writer.close()

    return handle


class UdpRelay(asyncio.DatagramProtocol):
    """Each query goes to the upstream from a socket of its own; the answer comes back L ms later."""

    def __init__(self, upstream: tuple[str, int], delay: float) -> None:
        self.upstream = upstream
        self.delay = delay
        self.transport: asyncio.DatagramTransport | None = None
        self.in_flight = 0

    # Narrowed as typeshed's own DatagramProtocol narrows it (with the same ignore); no isinstance check
    # instead: CPython's datagram transport has sendto() without subclassing DatagramTransport.
    def connection_made(self, transport: asyncio.DatagramTransport) -> None:  # type: ignore[override]
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.in_flight >= MAX_UDP:
            return  # dropped, as by a saturated link: the client retries or times out
        self.in_flight += 1
        asyncio.get_running_loop().create_task(self._relay(data, addr))

    async def _relay(self, data: bytes, client: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bytes] = loop.create_future()

        class Once(asyncio.DatagramProtocol):
            def datagram_received(self, reply: bytes, _addr: tuple[str, int]) -> None:
                if not answer.done():
                    answer.set_result(reply)

        transport = None
        try:
            transport, _ = await loop.create_datagram_endpoint(Once, remote_addr=self.upstream)
            transport.sendto(data)
            reply = await asyncio.wait_for(answer, UDP_TIMEOUT)
            await asyncio.sleep(self.delay)
            if self.transport is not None:
                self.transport.sendto(reply, client)
        except (TimeoutError, OSError):
            pass
        finally:
            if transport is not None:
                transport.close()
            self.in_flight -= 1


async def serve(settings: dict, ready: Path) -> None:
    delay = float(settings["delay_ms"]) / 1000
    slots = asyncio.Semaphore(MAX_TCP)
    loop = asyncio.get_running_loop()
    servers = []
    for listen_host, listen_port, up_host, up_port in settings["tcp"]:
        servers.append(await asyncio.start_server(tcp_handler((up_host, up_port), delay, slots),
                                                  listen_host, listen_port, backlog=1024, reuse_address=True))
    for listen_host, listen_port, up_host, up_port in settings["udp"]:
        await loop.create_datagram_endpoint(functools.partial(UdpRelay, (up_host, up_port), delay),
                                            local_addr=(listen_host, listen_port))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ready.write_text(f"{os.getpid()}\n")
    sys.stderr.write(f"latency proxy ready: +{settings['delay_ms']} ms (pid {os.getpid()})\n")
    sys.stderr.flush()
    await stop.wait()
    for server in servers:
        server.close()


def main(argv: list[str]) -> int:
    state = Path(argv[1])
    runtime = json.loads((state / "sandbox.json").read_text())
    settings = runtime["latency"]
    for host, *_ in settings["tcp"] + settings["udp"]:
        if not host.startswith("127."):  # loopback only, whatever the runtime file says
            raise SystemExit(f"latency: refusing to bind {host}: not a loopback address")
    asyncio.run(serve(settings, state / "run" / "latency.ready"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
