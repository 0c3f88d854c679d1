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


class _End(asyncio.Protocol):
    """One end of a spliced connection: what it receives is written to the other end's transport.

    Protocols rather than streams: a round of a fleet's postdeploy pushes ~5,000 requests through this
    process, and the streams' read/write/drain per chunk made it the stand-in's second-largest CPU cost
    (1.7-1.9 s a round at N = 50). Back-pressure: when one end's outgoing buffer fills, the other end
    stops reading until it drains. A half-close is passed on (TLS close_notify and HTTP bodies rely on
    it); the pair closes once both ends have ended, or as soon as one is lost."""

    def __init__(self, pair: _Pair) -> None:
        self.pair = pair
        self.transport: asyncio.Transport | None = None
        self.peer: _End | None = None
        self.early: list[bytes] = []  # received before the other end exists (upstream speaking first)
        self.ended = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.pair.touch()
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)
        else:
            self.early.append(data)

    def eof_received(self) -> bool:
        self.ended = True
        peer = self.peer
        if peer is not None and peer.transport is not None and peer.transport.can_write_eof():
            with contextlib.suppress(OSError, RuntimeError):
                peer.transport.write_eof()
        if peer is None or peer.ended:
            self.pair.close()
        return True  # keep the other direction open until it ends too

    def connection_lost(self, exc: Exception | None) -> None:
        self.pair.close()

    def pause_writing(self) -> None:  # our outgoing buffer is full: the other end stops reading
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


class _Pair:
    """A client connection and its upstream: one slot, one idle timer, closed once."""

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self.loop = asyncio.get_running_loop()
        self.slots = slots
        self.client = _End(self)
        self.upstream = _End(self)
        self.last = self.loop.time()
        self.timer: asyncio.TimerHandle | None = None
        self.slot = False  # holds one of the MAX_TCP slots
        self.closed = False
        self.admission: asyncio.Task[None] | None = None  # held here: the loop keeps only weak references

    def touch(self) -> None:
        self.last = self.loop.time()

    def watch_idle(self) -> None:
        if self.closed:
            return
        idle = self.loop.time() - self.last
        if idle >= IDLE_TIMEOUT:
            self.close()
        else:
            self.timer = self.loop.call_later(IDLE_TIMEOUT - idle, self.watch_idle)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
        for end in (self.client, self.upstream):
            if end.transport is not None:
                end.transport.close()  # what is buffered still goes out first
        if self.slot:
            self.slot = False
            self.slots.release()

    def link(self) -> None:
        """Both ends are connected: splice them, pass on what the upstream said first, start reading."""
        client, upstream = self.client, self.upstream
        client.peer, upstream.peer = upstream, client
        if client.transport is not None:
            for data in upstream.early:
                client.transport.write(data)
        upstream.early.clear()
        self.watch_idle()
        if client.transport is not None:
            client.transport.resume_reading()


def tcp_handler(upstream: tuple[str, int], delay: float, slots: asyncio.Semaphore):
    """A protocol factory for the listening socket: each accepted connection is held for `delay`, then
    spliced to `upstream` (a connection of its own); nothing is read from the client until then."""

    async def connect(pair: _Pair) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.sleep(delay)
            await asyncio.wait_for(loop.create_connection(lambda: pair.upstream, *upstream), 5)
        except (TimeoutError, OSError):
            pair.close()  # as an unreachable server: the client sees the connection closed
            return
        if pair.closed:  # the client went away while we waited
            if pair.upstream.transport is not None:
                pair.upstream.transport.close()
            return
        pair.link()

    class Accepted(_End):
        def __init__(self) -> None:
            super().__init__(_Pair(slots))
            self.pair.client = self

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            assert self.transport is not None
            self.transport.pause_reading()
            self.pair.admission = asyncio.get_running_loop().create_task(self.admit())

        async def admit(self) -> None:
            pair = self.pair
            await pair.slots.acquire()
            if pair.closed:  # the client went away while it waited for a slot
                pair.slots.release()
                return
            pair.slot = True  # released by the pair's close
            await connect(pair)

    return Accepted


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
        servers.append(await loop.create_server(tcp_handler((up_host, up_port), delay, slots),
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
