"""Servers: SSH with verified host keys, the cook command allowed, the w.c.s. skeleton, a clean slate."""

from __future__ import annotations

import pytest

from publik_acceptance.evidence import log as evidence_log
from publik_acceptance.evidence.preflight import PreflightEvidence
from publik_acceptance.evidence.skeleton import describe_skeleton
from publik_acceptance.judge.checks import Verdict, skip_unchecked
from publik_acceptance.plan import Plan, Target
from publik_acceptance.pytest_plugin import RunContext

SKELETON_MODE_MASK = 0o007  # nothing for "other": the skeleton holds database passwords


def test_ssh(run: RunContext, preflight: PreflightEvidence, server_role: str) -> None:
    facts = preflight.servers[server_role]
    verdict = Verdict("SSH", f"role {server_role}: {run.pool.describe(server_role)}")
    verdict.attach("remote", f"role {server_role}", facts)
    verdict.expect(facts.error is None, "an SSH session with a verified host key", facts.error or "",
                   f"make {run.pool.describe(server_role)} reachable with the configured key and known_hosts "
                   "(ssh.* and servers.* in the environment file); host keys are always verified")
    if facts.error is None:
        verdict.note(f"facts gathered in {facts.elapsed * 1000:.0f} ms over one command")
        for host, key in run.pool.accepted_keys.items():
            verdict.note(f"host key of {host} accepted on first use (ssh.unknown_host_keys: accept): {key}")
    verdict.conclude()


def test_cook_command_allowed(plan: Plan, preflight: PreflightEvidence) -> None:
    facts = preflight.servers["hobo"]
    if facts.error:
        skip_unchecked("the hobo server is unreachable: see test_ssh[hobo|…]")
    check = plan.environment.cook.check_command
    result = facts.commands[check]
    verdict = Verdict("cook command", f"`{check}` on {facts.label}")
    verdict.attach("command", f"on {facts.label}", result)
    output = result.output.strip()
    verdict.note(f"exit {result.exit_status}: {output[:500] or '(no output)'}")
    verdict.expect(result.exit_status == 0, "exit 0: hobo-manage exists and the cook user may run it",
                   f"exit {result.exit_status}: {output.splitlines()[-1] if output else '(no output)'}",
                   "install hobo (hobo-manage) on this server and give the SSH user sudo rights to run it "
                   "as the hobo user (see cook.command / cook.check_command)")
    verdict.conclude()


@pytest.mark.services("wcs")
def test_wcs_skeleton(plan: Plan, preflight: PreflightEvidence, target: Target) -> None:
    if preflight.servers[target.server].error:
        skip_unchecked(f"the {target.server} server is unreachable: see test_ssh")
    skeleton = preflight.skeleton(target)
    path_facts = preflight.servers[target.server].paths.get(skeleton.path)
    verdict = Verdict("w.c.s. skeleton", f"{target.id}: {skeleton.path} on {preflight.servers[target.server].label} "
                                         f"(template_name {target.template_name!r} of {target.step})")
    verdict.attach("remote", skeleton.path, path_facts)
    exists = bool(path_facts and path_facts.exists)
    verdict.expect(exists, f"the skeleton {skeleton.template} in {plan.environment.wcs.skeletons_dir}",
                   "absent", "upload modele.zip there (inv render builds it), owner wcs, mode 0640")
    if exists and path_facts is not None:
        verdict.note(path_facts.describe())
        if skeleton.template != (target.template_name or skeleton.template):
            verdict.expect(False, f"the skeleton named by template_name: {target.template_name}",
                           f"only the fallback {skeleton.template} exists",
                           f"upload {target.template_name}, or fix template_name in the recipe")
        verdict.expect(path_facts.kind == "regular file", "a zip file", str(path_facts.kind),
                       "w.c.s. also accepts a directory, but this suite expects the runbook's zip")
        verdict.expect((path_facts.mode or 0) & SKELETON_MODE_MASK == 0, "not world-readable (0640 or stricter)",
                       f"mode {path_facts.mode:04o}", f"chmod 0640 {skeleton.path} (it holds database passwords)")
        report = skeleton.report
        if report is None:
            verdict.expect(False, "a readable file", "could not read it", "check its permissions and sudo rights")
        else:
            verdict.note(describe_skeleton(report))
            for problem in report.problems:
                verdict.expect(False, "a valid skeleton (config.json + site-options.cfg)", problem,
                               "rebuild modele.zip with inv render and upload it again")
    verdict.conclude()


def test_not_yet_deployed(plan: Plan, preflight: PreflightEvidence, target: Target) -> None:
    if preflight.servers[target.server].error:
        skip_unchecked(f"the {target.server} server is unreachable: see test_ssh")
    evidence_log.record("remote", f"{target.tenant_dir} on role {target.server}",
                        preflight.servers[target.server].paths.get(target.tenant_dir))
    found = preflight.existing(target)
    if not found:
        return
    siblings = plan.targets_of(target.instance)
    deployed = [t for t in siblings if preflight.existing(t)]
    verdict = Verdict("nothing deployed yet", f"{target.id} (instance {target.instance})")
    if len(deployed) == len(siblings):
        verdict.expect(False, "no tenant, schema or database yet", "; ".join(found),
                       f"instance {target.instance} is already deployed — run the postdeploy phase "
                       "(pytest --phase postdeploy) instead of cooking again")
    else:
        others = ", ".join(t.hostname for t in deployed)
        verdict.expect(False, "no tenant, schema or database yet", "; ".join(found),
                       f"instance {target.instance} is half-deployed ({len(deployed)}/{len(siblings)}: {others}): "
                       "a human must decide (finish or clean up) before any cook")
    verdict.conclude()
