"""DNS through the environment's own resolvers (never /etc/resolv.conf nor /etc/hosts)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import dns.exception
import dns.rdatatype
import dns.resolver

from publik_acceptance.config.environment import DnsSettings, Resolver


@dataclass(frozen=True)
class DnsAnswer:
    resolver: str
    rdtype: str  # "A" or "AAAA"
    status: str  # "ok", "NXDOMAIN", "no data", "timeout", "no answer from resolver", "error"
    addresses: tuple[str, ...] = ()
    detail: str = ""
    elapsed: float = 0.0

    @property
    def failed(self) -> bool:
        """A resolver problem, as opposed to a clean answer (with or without data)."""
        return self.status not in ("ok", "no data", "NXDOMAIN")


@dataclass(frozen=True)
class DnsEvidence:
    hostname: str
    answers: tuple[DnsAnswer, ...]

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(sorted({a for answer in self.answers for a in answer.addresses}))

    def by_resolver(self) -> dict[str, tuple[str, ...]]:
        result: dict[str, set[str]] = {}
        for answer in self.answers:
            result.setdefault(answer.resolver, set()).update(answer.addresses)
        return {resolver: tuple(sorted(addresses)) for resolver, addresses in result.items()}

    def describe(self) -> str:
        lines = []
        for a in self.answers:
            value = ", ".join(a.addresses) if a.addresses else a.status
            extra = f" ({a.detail})" if a.detail and not a.addresses else ""
            lines.append(f"{a.rdtype:<4} @{a.resolver}: {value}{extra} [{a.elapsed * 1000:.0f} ms]")
        return "\n".join(lines)


def _resolver(server: Resolver, timeout: float) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.address]
    resolver.port = server.port
    resolver.timeout = timeout
    resolver.lifetime = timeout
    resolver.cache = None
    return resolver


def query(hostname: str, server: Resolver, rdtype: str, timeout: float) -> DnsAnswer:
    """One question to one resolver; every outcome becomes an answer, nothing raises."""
    started = time.monotonic()
    name = str(server)
    try:
        answer = _resolver(server, timeout).resolve(hostname.rstrip(".") + ".", rdtype, search=False)
    except dns.resolver.NXDOMAIN:
        return DnsAnswer(name, rdtype, "NXDOMAIN", elapsed=time.monotonic() - started)
    except dns.resolver.NoAnswer:
        return DnsAnswer(name, rdtype, "no data", elapsed=time.monotonic() - started)
    except dns.resolver.LifetimeTimeout:
        return DnsAnswer(name, rdtype, "timeout", detail=f"no reply within {timeout:g} s",
                         elapsed=time.monotonic() - started)
    except dns.resolver.NoNameservers as exc:
        return DnsAnswer(name, rdtype, "no answer from resolver", detail=_short(exc),
                         elapsed=time.monotonic() - started)
    except dns.exception.DNSException as exc:
        return DnsAnswer(name, rdtype, "error", detail=_short(exc), elapsed=time.monotonic() - started)
    addresses = tuple(sorted(r.address for r in answer if r.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)))
    return DnsAnswer(name, rdtype, "ok", addresses, elapsed=time.monotonic() - started)


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 200 else text[:197] + "..."


def questions(hostname: str, settings: DnsSettings) -> list[tuple[str, Resolver, str]]:
    """Every (hostname, resolver, type) question the DNS evidence of one hostname needs."""
    types = ("A", "AAAA") if settings.ipv6 else ("A",)
    return [(hostname, server, rdtype) for server in settings.resolvers for rdtype in types]
