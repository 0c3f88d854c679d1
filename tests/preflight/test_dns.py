"""Every planned hostname resolves, through every configured resolver, to the expected frontends."""

from __future__ import annotations

from publik_acceptance.evidence.preflight import PreflightEvidence
from publik_acceptance.judge.checks import Verdict
from publik_acceptance.plan import Plan, Target


def test_dns(plan: Plan, preflight: PreflightEvidence, target: Target) -> None:
    env = plan.environment
    evidence = preflight.dns[target.hostname]
    verdict = Verdict("DNS", f"{target.id} via {', '.join(str(r) for r in env.dns.resolvers)}")
    verdict.note(evidence.describe())
    verdict.attach("dns", target.hostname, evidence)
    for answer in evidence.answers:
        verdict.expect(not answer.failed, f"an answer from resolver {answer.resolver} for {answer.rdtype}",
                       f"{answer.status} {answer.detail}".strip(),
                       f"check that resolver {answer.resolver} is reachable from here and serves this zone")
    verdict.expect(bool(evidence.addresses), f"{target.hostname} resolves to at least one address",
                   "no A or AAAA record (" + ", ".join(sorted({a.status for a in evidence.answers})) + ")",
                   f"create the DNS record(s) for {target.hostname} pointing at the frontends")
    views = evidence.by_resolver()
    if len(set(views.values())) > 1:
        actual = "; ".join(f"{r}: {', '.join(a) or 'nothing'}" for r, a in views.items())
        verdict.expect(False, "every resolver gives the same addresses", actual,
                       "wait for the zone to propagate, or fix the resolver that disagrees")
    if env.dns.expect_addresses and evidence.addresses:
        unexpected = [a for a in evidence.addresses if a not in env.dns.expect_addresses]
        verdict.expect(not unexpected, f"only frontend addresses {', '.join(env.dns.expect_addresses)}",
                       f"also {', '.join(unexpected)}",
                       f"fix the record of {target.hostname}: {', '.join(unexpected)} is not a frontend")
    verdict.conclude()
