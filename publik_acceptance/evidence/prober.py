"""Concurrent probing: a bounded thread pool overall and a bounded number in flight per address.

Network work is I/O bound; this keeps a fleet's preflight close to the network's latency floor
without hammering any single frontend.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from publik_acceptance.config.environment import Environment
from publik_acceptance.evidence.probes import dns as dns_probe
from publik_acceptance.evidence.probes.dns import DnsEvidence

T = TypeVar("T")
R = TypeVar("R")


class Prober:
    def __init__(self, env: Environment) -> None:
        self.env = env
        self._executor = ThreadPoolExecutor(max_workers=env.http.concurrency, thread_name_prefix="probe")
        self._slots: defaultdict[str, threading.BoundedSemaphore] = defaultdict(
            lambda: threading.BoundedSemaphore(env.http.per_address_concurrency))
        self._slots_lock = threading.Lock()

    def _slot(self, address: str) -> threading.BoundedSemaphore:
        with self._slots_lock:
            return self._slots[address]

    def map(self, fn: Callable[[T], R], items: Iterable[T], address: Callable[[T], str] | None = None) -> list[R]:
        """fn over items concurrently, results in input order; `address(item)` limits per address."""
        def run(item: T) -> R:
            if address is None:
                return fn(item)
            with self._slot(address(item)):
                return fn(item)

        return list(self._executor.map(run, list(items)))

    def resolve_all(self, hostnames: Iterable[str]) -> dict[str, DnsEvidence]:
        settings = self.env.dns
        names = sorted(set(hostnames))
        questions = [q for name in names for q in dns_probe.questions(name, settings)]
        # Bounded by the pool only: per_address_concurrency protects the frontends, and a resolver
        # answers thousands of small UDP questions a second (with it, DNS was a fleet's slowest part).
        answers = self.map(lambda q: dns_probe.query(q[0], q[1], q[2], settings.timeout), questions)
        by_name: dict[str, list] = defaultdict(list)
        for (name, _server, _rdtype), answer in zip(questions, answers, strict=True):
            by_name[name].append(answer)
        return {name: DnsEvidence(name, tuple(by_name[name])) for name in names}

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def first_address(evidence: DnsEvidence) -> str | None:
    addresses = evidence.addresses
    return addresses[0] if addresses else None
