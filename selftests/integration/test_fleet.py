"""The suite on a fleet: ten instances behind the latency proxy, a fault on one host of each of a few.

Correctness, not speed: every address of every hostname is checked, a fault on one instance's host
fails exactly that host's tests and nothing else, and the connection economy holds (one SSH
connection per server, at most three remote commands per server per round). Timings are measured
by benchmarks/preflight_fleet.py, never asserted here.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from publik_acceptance.deploy.cook import Cook
from publik_acceptance.evidence.preflight import PreflightEvidence
from publik_acceptance.evidence.prober import Prober
from publik_acceptance.evidence.probes.remote import SshPool
from publik_acceptance.judge.expectations import State
from publik_acceptance.judge.postdeploy import PostdeployEvidence
from publik_acceptance.plan import load_plan
from publik_sandbox import Sandbox

from .suite_runner import run_suite

INSTANCES = 10
LATENCY_MS = 10.0
F1, F2 = "127.0.0.11", "127.0.0.12"
PREFLIGHT_FAULTS = ["tls-expired:authentic@ville05", "http-502:passerelle@ville07", "dns-missing:portal-agent@ville03"]


def host(sandbox: Sandbox, instance: str, name: str) -> tuple[str, str]:
    """(kind, hostname) of a service of an instance."""
    found = next(i for i in sandbox.instances() if i.name == instance).find(name)
    assert found is not None, (instance, name)
    return found.kind, found.host


@pytest.fixture(scope="module")
def fleet(sandbox: Sandbox) -> Iterator[Sandbox]:
    """A sandbox of INSTANCES instances behind LATENCY_MS of latency, with PREFLIGHT_FAULTS applied; down after."""
    # Same state directory as the session's sandbox: `up` first brings down whatever it holds.
    sb = Sandbox(config=replace(sandbox.config, instances=INSTANCES, latency_ms=LATENCY_MS))
    sb.up(faults=PREFLIGHT_FAULTS)
    yield sb
    sb.down()


def test_fleet_is_served(fleet: Sandbox) -> None:
    status = fleet.status()
    assert status["up"], status["components"]
    assert {c["name"] for c in status["components"]} >= {"latency", "frontend-1", "frontend-2", "dns"}
    assert len(fleet.instances()) == INSTANCES
    assert all(len(i.hostnames) == 7 for i in fleet.instances())
    # The proxy is really in the path: a TLS handshake through it waits at least the added latency.
    _kind, name = host(fleet, "ville10", "portal-user")
    context = ssl.create_default_context(cafile=str(fleet.paths.ca))
    started = time.monotonic()
    with socket.create_connection((F2, 443), timeout=5) as raw, context.wrap_socket(raw, server_hostname=name):
        pass
    assert time.monotonic() - started >= LATENCY_MS / 1000


def test_preflight_checks_every_address_and_fails_exactly_the_faulty_hosts(fleet: Sandbox, tmp_path: Path) -> None:
    run = run_suite(fleet.env_file, "--phase=preflight", f"--reports-dir={tmp_path / 'reports'}",
                    "--no-screenshots", tmp=tmp_path)
    assert run.exit_code == 1, run.describe()
    expired = "|".join(host(fleet, "ville05", "authentic"))
    bad_gateway = "|".join(host(fleet, "ville07", "passerelle"))
    unresolved = "|".join(host(fleet, "ville03", "portal-agent"))
    expected = {f"test_tls[{expired}|{a}]" for a in (F1, F2)} | {f"test_http_404[{bad_gateway}|{a}]" for a in (F1, F2)}
    expected.add(f"test_dns[{unresolved}]")
    assert set(run.failed) == expected, run.describe()
    assert "expired" in run.failed[f"test_tls[{expired}|{F1}]"]
    assert "502" in run.failed[f"test_http_404[{bad_gateway}|{F2}]"]

    hostnames = {h for i in fleet.instances() for h in i.hostnames}
    assert len(hostnames) == 7 * INSTANCES
    checked = run.passed | set(run.failed)
    for test in ("test_tls", "test_http_404"):
        for name in hostnames:
            kind = next(s.kind for i in fleet.instances() for s in i.services if s.host == name)
            ids = {f"{test}[{kind}|{name}|{a}]" for a in (F1, F2)}
            if f"{kind}|{name}" == unresolved:
                assert f"{test}[{kind}|{name}|unresolved]" in run.skipped
            else:
                assert ids <= checked, (test, name)
    assert {f"test_dns[{s.kind}|{s.host}]" for i in fleet.instances() for s in i.services} <= checked


def test_preflight_evidence_costs_one_ssh_connection_and_two_commands(fleet: Sandbox) -> None:
    plan = load_plan(fleet.env_file)
    pool, prober = SshPool(plan.environment), Prober(plan.environment)
    try:
        evidence = PreflightEvidence(plan, pool, prober)
        assert len(evidence.exchanges) == 2 * (7 * INSTANCES - 1)  # one hostname does not resolve
        assert not evidence.servers["hobo"].error and not evidence.database.error
        assert dict(pool.stats.connections) == {"root@127.0.0.15:22": 1}
        assert sum(pool.stats.commands.values()) <= 3
    finally:
        prober.close()
        pool.close()


def test_postdeploy_on_the_fleet_fails_exactly_the_faulty_page(fleet: Sandbox) -> None:
    fleet.up(faults=["portal-error:portal-user@ville04"])
    plan = load_plan(fleet.env_file)
    env = plan.environment
    pool, prober = SshPool(env), Prober(env)
    try:
        cook = Cook(plan, pool, sink=lambda _line: None).run()
        assert cook.status == "ran", cook.log[-5:]
        connections_after_cook = sum(pool.stats.connections.values())
        outcome = PostdeployEvidence(plan, pool, prober, PreflightEvidence(plan, pool, prober)).outcome()
    finally:
        prober.close()
        pool.close()
    assert not outcome.timed_out
    _kind, broken = host(fleet, "ville04", "portal-user")
    wrong = {(i.target.hostname, i.aspect, i.address) for i in outcome.items.values()
             if i.judgement is None or i.judgement.state is not State.OK}
    assert wrong == {(broken, "page", F1), (broken, "page", F2)}
    pages = [i for i in outcome.items.values() if i.aspect == "page"]
    assert len(pages) == 2 * 7 * INSTANCES
    # One SSH connection for the whole run (cook included), at most 3 commands per server per round.
    assert connections_after_cook == 1 and sum(pool.stats.connections.values()) == 1
    assert outcome.rounds and all(n <= 3 for r in outcome.rounds for n in r.remote_commands.values())
