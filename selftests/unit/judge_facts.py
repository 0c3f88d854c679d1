"""Synthetic facts for the judges' unit tests: a Plan from the valid corpus, evidence built by hand."""

from __future__ import annotations

from pathlib import Path

from publik_acceptance.evidence.probes.http import HttpExchange
from publik_acceptance.evidence.probes.tls import TlsEvidence
from publik_acceptance.plan import Plan, Target, load_plan

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "valid" / "environment.yml"
ADDRESS = "192.0.2.80"


def corpus_plan() -> Plan:
    return load_plan(CORPUS)


def target(kind: str) -> Target:
    """The corpus's only target of this kind: hobo, authentic, combo or wcs."""
    return next(t for t in corpus_plan().targets if t.kind == kind)


def exchange(url: str, status: int | None = 200, *, reason: str = "", location: str | None = None, body: str = "",
             headers: dict[str, str] | None = None, tls: TlsEvidence | None = None, error_kind: str | None = None,
             error: str | None = None) -> HttpExchange:
    """One request as the HTTP probe records it (headers lower-cased, as the probe keeps them)."""
    all_headers = dict(headers or {})
    if location is not None:
        all_headers["location"] = location
    reason = reason or {200: "OK", 302: "Found", 404: "Not Found"}.get(status or 0, "")
    return HttpExchange(url, ADDRESS, status, reason, all_headers, body, tls, error_kind, error)


def unverified(hostname: str, error: str = "certificate has expired") -> TlsEvidence:
    return TlsEvidence(hostname, ADDRESS, 443, verified=False, error_kind="expired", error=error)
