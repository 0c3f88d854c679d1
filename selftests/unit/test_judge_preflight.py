"""The preflight judges (DNS, TLS, SSH, cook command, skeleton, nothing deployed, databases) and the
parity judge on synthetic facts, no server."""

from __future__ import annotations

import datetime as dt

from publik_acceptance.config.environment import DnsSettings, MirrorOf, Resolver
from publik_acceptance.evidence.parity import ParityFacts
from publik_acceptance.evidence.preflight import SkeletonFacts
from publik_acceptance.evidence.probes.dns import DnsAnswer, DnsEvidence
from publik_acceptance.evidence.probes.facts import CommandFacts, PathFacts
from publik_acceptance.evidence.probes.postgres import DatabaseFacts, LoginFacts, RoleFacts
from publik_acceptance.evidence.probes.tls import CertInfo, TlsEvidence
from publik_acceptance.evidence.servers import ServerFacts
from publik_acceptance.evidence.skeleton import SkeletonReport
from publik_acceptance.judge.checks import Verdict
from publik_acceptance.judge.parity import judge_parity
from publik_acceptance.judge.preflight import (
    judge_already_deployed,
    judge_cook_command,
    judge_createdb_role,
    judge_dns,
    judge_service_database,
    judge_ssh,
    judge_tls,
    judge_wcs_skeleton,
)

from .judge_facts import corpus_plan, target

HOST = "portail.example.test"


def actuals(verdict: Verdict) -> list[str]:
    return [actual for _, actual, _ in verdict.problems]


# -- DNS ---------------------------------------------------------------------------------------------

def dns(*answers: DnsAnswer, expect: tuple[str, ...] = ()) -> Verdict:
    settings = DnsSettings((Resolver("192.0.2.53"), Resolver("192.0.2.54")), expect_addresses=expect)
    return judge_dns(target("combo"), settings, DnsEvidence(HOST, answers))


def answer(resolver: str, address: str) -> DnsAnswer:
    return DnsAnswer(resolver, "A", "ok", (address,))


def test_dns_agreeing_resolvers_pass() -> None:
    verdict = dns(answer("192.0.2.53", "192.0.2.80"), answer("192.0.2.54", "192.0.2.80"),
                  DnsAnswer("192.0.2.53", "AAAA", "no data"), expect=("192.0.2.80",))
    assert verdict.ok, verdict.message()
    assert verdict.subject == "combo|portail.example.test via 192.0.2.53, 192.0.2.54"


def test_dns_failures_missing_records_disagreement_and_strangers_are_each_reported() -> None:
    failing = dns(DnsAnswer("192.0.2.53", "A", "timeout", detail="3 s"), DnsAnswer("192.0.2.54", "A", "NXDOMAIN"))
    assert actuals(failing) == ["timeout 3 s", "no A or AAAA record (NXDOMAIN, timeout)"]
    disagree = dns(answer("192.0.2.53", "192.0.2.80"), answer("192.0.2.54", "192.0.2.99"), expect=("192.0.2.80",))
    assert actuals(disagree) == ["192.0.2.53: 192.0.2.80; 192.0.2.54: 192.0.2.99", "also 192.0.2.99"]


# -- TLS ---------------------------------------------------------------------------------------------

def cert(days: float) -> CertInfo:
    now = dt.datetime.now(dt.UTC)
    return CertInfo(f"CN={HOST}", "CN=Test CA", (HOST,), now - dt.timedelta(days=1), now + dt.timedelta(days=days),
                    "1", "00")


def tls(error_kind: str | None = None, days: float = 90, error: str | None = None) -> TlsEvidence:
    return TlsEvidence(HOST, "192.0.2.80", 443, error_kind is None, error_kind, error, "TLSv1.3",
                       "TLS_AES_256_GCM_SHA384", cert(days))


def test_tls_verified_with_time_left_passes() -> None:
    verdict = judge_tls(HOST, "192.0.2.80:443", tls(), 21)
    assert verdict.ok and verdict.evidence[1] == "negotiated TLSv1.3 TLS_AES_256_GCM_SHA384"


def test_tls_problems_say_what_to_do() -> None:
    expired = judge_tls(HOST, "192.0.2.80:443", tls("expired", days=-2, error="certificate has expired"), 21)
    assert [(a, t) for _, a, t in expired.problems] == [
        ("certificate has expired", f"renew the certificate for {HOST} and reload the frontend at 192.0.2.80:443")]
    soon = judge_tls(HOST, "192.0.2.80:443", tls(days=5), 21)
    assert actuals(soon)[0].startswith("5.0 days left") or actuals(soon)[0].startswith("4.9 days left")
    no_cert = TlsEvidence(HOST, "192.0.2.80", 443, False, "connect", None)
    assert actuals(judge_tls(HOST, "192.0.2.80:443", no_cert, 21)) == ["connect"]


# -- servers -----------------------------------------------------------------------------------------

def test_ssh_passes_with_facts_and_notes_keys_accepted_on_first_use() -> None:
    facts = ServerFacts("root@app1:22", ("hobo",), elapsed=0.25)
    verdict = judge_ssh("hobo", "root@app1:22", facts, {"app1": "ssh-ed25519 AAAA"})
    assert verdict.ok
    assert verdict.evidence == [
        "facts gathered in 250 ms over one command",
        "host key of app1 accepted on first use (ssh.unknown_host_keys: accept): ssh-ed25519 AAAA"]
    refused = judge_ssh("hobo", "root@app1:22", ServerFacts("root@app1:22", ("hobo",), error="host key CHANGED"), {})
    assert actuals(refused) == ["host key CHANGED"] and not refused.evidence


def test_cook_command_exit_status_and_last_output_line() -> None:
    facts = ServerFacts("root@app1:22", ("hobo",), commands={"check": CommandFacts("check", 0, "")})
    assert judge_cook_command("check", facts).ok
    facts.commands["check"] = CommandFacts("check", 1, "sudo: a password is required\nhobo-manage: not found\n")
    assert actuals(judge_cook_command("check", facts)) == ["exit 1: hobo-manage: not found"]
    facts.commands["check"] = CommandFacts("check", 127, "  ")
    assert actuals(judge_cook_command("check", facts)) == ["exit 127: (no output)"]


SKELETONS = "/var/lib/wcs/skeletons"


def skeleton(name: str = "modele.zip", kind: str = "regular file", mode: int = 0o640, exists: bool = True,
             report: SkeletonReport | None = None) -> Verdict:
    path = f"{SKELETONS}/{name}"
    server = ServerFacts("root@app1:22", ("hobo",), paths={path: PathFacts(path, exists, kind, "wcs", "wcs", mode)})
    return judge_wcs_skeleton(target("wcs"), SKELETONS, server, SkeletonFacts(name, path, "hobo", report))


def test_a_good_skeleton_passes() -> None:
    assert skeleton(report=SkeletonReport(members=["config.json", "site-options.cfg"])).ok


def test_skeleton_problems_are_each_reported() -> None:
    assert actuals(skeleton(exists=False)) == ["absent"]
    assert actuals(skeleton("default.zip", report=SkeletonReport())) == ["only the fallback default.zip exists"]
    assert actuals(skeleton(kind="directory", mode=0o755)) == ["directory", "mode 0755", "could not read it"]
    assert actuals(skeleton(report=SkeletonReport(problems=["not a valid zip"]))) == ["not a valid zip"]


def test_something_already_deployed_says_whether_all_or_part_of_the_instance() -> None:
    siblings = corpus_plan().targets
    whole = judge_already_deployed(siblings[0], ["tenant directory x"], siblings, list(siblings))
    assert "is already deployed" in whole.problems[0][2]
    half = judge_already_deployed(siblings[0], ["tenant directory x"], siblings, [siblings[0]])
    assert "is half-deployed (1/4: hobo.example.test)" in half.problems[0][2]


# -- databases ---------------------------------------------------------------------------------------

def test_service_database_exists_or_not_or_unknown() -> None:
    assert judge_service_database("combo", "combo", DatabaseFacts(databases=frozenset({"combo"}), source="psql")).ok
    assert actuals(judge_service_database("combo", "combo", DatabaseFacts(source="psql"))) == ["absent"]
    assert actuals(judge_service_database("combo", "combo", DatabaseFacts(error="refused"))) == ["refused"]


WHERE = f"{SKELETONS}/modele.zip on root@app1:22"
SKELETON = SkeletonFacts("modele.zip", f"{SKELETONS}/modele.zip", "hobo", SkeletonReport())


def login(ok: bool, can_create_database: bool = False, error: str | None = None, via: str = "",
          refused: str | None = None) -> LoginFacts:
    return LoginFacts("wcs", "db1", 5432, "postgres", ok, can_create_database, error, via, refused)


def test_createdb_role_that_logs_in_and_creates_passes() -> None:
    facts = DatabaseFacts(roles={"wcs": RoleFacts("wcs", True, True, False)})
    verdict = judge_createdb_role(login(ok=True, can_create_database=True, via="psql on app1"), facts, SKELETON, WHERE)
    assert verdict.ok
    assert verdict.evidence == ["login tried with psql on app1", "role wcs: login=True createdb=True superuser=False"]


def test_createdb_role_problems() -> None:
    assert actuals(judge_createdb_role(login(ok=True), DatabaseFacts(), SKELETON, WHERE)) \
        == ["wcs cannot create databases"]
    assert actuals(judge_createdb_role(login(ok=False, error="password authentication failed"),
                                       DatabaseFacts(error="refused"), SKELETON, WHERE)) \
        == ["refused", "password authentication failed"]
    assert actuals(judge_createdb_role(login(ok=False), DatabaseFacts(), SKELETON, WHERE)) == ["login failed"]


def test_an_unsafe_createdb_login_is_refused_before_anything_else() -> None:
    verdict = judge_createdb_role(login(ok=False, refused="control character in host"), DatabaseFacts(error="x"),
                                  SKELETON, WHERE)
    assert actuals(verdict) == [f"{WHERE}: control character in host; nothing was run with it"]


# -- parity ------------------------------------------------------------------------------------------

def test_parity_missing_tenants_fail_and_extra_ones_are_noted() -> None:
    mirror = MirrorOf("preprod", strip="-preprod")
    same = ParityFacts("preprod", there={"ville": {"a", "b"}}, here={"ville": {"a", "b", "c"}})
    verdict = judge_parity("prod", "ville", mirror, same)
    assert verdict.ok and verdict.evidence == ["only on prod (not on preprod): c", "on both: a, b"]
    assert verdict.subject == "instance ville: prod mirrors preprod (hostnames minus '-preprod')"
    missing = ParityFacts("preprod", error="ssh refused", there={"ville": {"a", "b"}}, here={"ville": {"a"}})
    verdict = judge_parity("prod", "ville", MirrorOf("preprod", "-preprod", "-x"), missing)
    assert actuals(verdict) == ["ssh refused", "missing here: b"]
    assert verdict.subject.endswith("(hostnames minus '-preprod', plus '-x')")
