"""Preflight judges: the facts gathered before the cook, against what the Plan needs, as verdicts.

Each judge takes the facts of one check (already gathered: no network here) and returns the Verdict
the check concludes: what was expected, what was found, what to do. The 404 judge has its own module
(notfound.py).
"""

from __future__ import annotations

from publik_acceptance.config.environment import DnsSettings
from publik_acceptance.evidence.preflight import SkeletonFacts
from publik_acceptance.evidence.probes.dns import DnsEvidence
from publik_acceptance.evidence.probes.postgres import DatabaseFacts, LoginFacts
from publik_acceptance.evidence.probes.tls import TlsEvidence
from publik_acceptance.evidence.servers import ServerFacts
from publik_acceptance.evidence.skeleton import describe_skeleton
from publik_acceptance.judge.checks import Verdict
from publik_acceptance.plan import Target

SKELETON_MODE_MASK = 0o007  # nothing for "other": the skeleton holds database passwords
DATABASE_TODO = "check database.server / database.psql (or database.direct) and that PostgreSQL runs"

TLS_TODO = {
    "connect": "start or fix the frontend (haproxy/nginx) listening on {where}, or fix the DNS record",
    "timeout": "the frontend at {where} accepts no TLS in time: check it and any firewall in between",
    "handshake": "the frontend at {where} fails the TLS handshake: check its TLS configuration and SNI",
    "expired": "renew the certificate for {host} and reload the frontend at {where}",
    "not-yet-valid": "the certificate for {host} is not valid yet: check its dates and the servers' clocks",
    "hostname": "install a certificate whose SANs cover {host} on {where} (and check SNI routing)",
    "untrusted": "serve the full chain from a trusted CA on {where} (or set tls.ca_bundle for a private CA)",
    "verify": "fix the certificate served by {where} for {host}",
}


def judge_dns(target: Target, settings: DnsSettings, evidence: DnsEvidence) -> Verdict:
    """Every resolver answers, the same addresses, at least one, and only frontends when they are listed."""
    verdict = Verdict("DNS", f"{target.id} via {', '.join(str(r) for r in settings.resolvers)}")
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
    if settings.expect_addresses and evidence.addresses:
        unexpected = [a for a in evidence.addresses if a not in settings.expect_addresses]
        verdict.expect(not unexpected, f"only frontend addresses {', '.join(settings.expect_addresses)}",
                       f"also {', '.join(unexpected)}",
                       f"fix the record of {target.hostname}: {', '.join(unexpected)} is not a frontend")
    return verdict


def judge_tls(hostname: str, where: str, tls: TlsEvidence, min_days: int) -> Verdict:
    """A verified session for the hostname on `where` (address:port), and enough validity left."""
    verdict = Verdict("TLS certificate", f"{hostname} on {where}")
    verdict.attach("tls", f"{hostname} on {where}", tls)
    if tls.cert:
        verdict.note(tls.cert.describe())
    if tls.protocol:
        verdict.note(f"negotiated {tls.protocol} {tls.cipher}")
    if tls.error_kind:
        verdict.expect(False, "a verified TLS session for this hostname", tls.error or tls.error_kind,
                       TLS_TODO[tls.error_kind].format(where=where, host=hostname))
    if tls.cert and tls.error_kind not in ("expired", "not-yet-valid"):
        days = tls.cert.days_left()
        verdict.expect(days >= min_days, f"at least {min_days} days of validity left",
                       f"{days:.1f} days left (expires {tls.cert.not_after:%Y-%m-%d %H:%M} UTC)",
                       f"renew the certificate for {hostname} before the deployment")
    return verdict


def judge_ssh(role: str, endpoint: str, facts: ServerFacts, accepted_keys: dict[str, str]) -> Verdict:
    """`endpoint` describes how the role is reached (user@host:port); `accepted_keys` were trusted on first use."""
    verdict = Verdict("SSH", f"role {role}: {endpoint}")
    verdict.attach("remote", f"role {role}", facts)
    verdict.expect(facts.error is None, "an SSH session with a verified host key", facts.error or "",
                   f"make {endpoint} reachable with the configured key and known_hosts "
                   "(ssh.* and servers.* in the environment file); host keys are always verified")
    if facts.error is None:
        verdict.note(f"facts gathered in {facts.elapsed * 1000:.0f} ms over one command")
        for host, key in accepted_keys.items():
            verdict.note(f"host key of {host} accepted on first use (ssh.unknown_host_keys: accept): {key}")
    return verdict


def judge_cook_command(check: str, facts: ServerFacts) -> Verdict:
    """The cook's check command ran on the hobo server and exited 0."""
    result = facts.commands[check]
    verdict = Verdict("cook command", f"`{check}` on {facts.label}")
    verdict.attach("command", f"on {facts.label}", result)
    output = result.output.strip()
    verdict.note(f"exit {result.exit_status}: {output[:500] or '(no output)'}")
    verdict.expect(result.exit_status == 0, "exit 0: hobo-manage exists and the cook user may run it",
                   f"exit {result.exit_status}: {output.splitlines()[-1] if output else '(no output)'}",
                   "install hobo (hobo-manage) on this server and give the SSH user sudo rights to run it "
                   "as the hobo user (see cook.command / cook.check_command)")
    return verdict


def judge_wcs_skeleton(target: Target, skeletons_dir: str, server: ServerFacts, skeleton: SkeletonFacts) -> Verdict:
    """The skeleton w.c.s. would use: the one named by template_name, a zip, not world-readable, valid."""
    path_facts = server.paths.get(skeleton.path)
    verdict = Verdict("w.c.s. skeleton", f"{target.id}: {skeleton.path} on {server.label} "
                                         f"(template_name {target.template_name!r} of {target.step})")
    verdict.attach("remote", skeleton.path, path_facts)
    exists = bool(path_facts and path_facts.exists)
    verdict.expect(exists, f"the skeleton {skeleton.template} in {skeletons_dir}",
                   "absent", "upload modele.zip there (inv render builds it), owner wcs, mode 0640")
    if not exists or path_facts is None:
        return verdict
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
        return verdict
    verdict.note(describe_skeleton(report))
    for problem in report.problems:
        verdict.expect(False, "a valid skeleton (config.json + site-options.cfg)", problem,
                       "rebuild modele.zip with inv render and upload it again")
    return verdict


def judge_already_deployed(target: Target, found: list[str], siblings: tuple[Target, ...],
                           deployed: list[Target]) -> Verdict:
    """Something of `target` exists (`found`) before the cook: the whole instance (`deployed` of its
    `siblings`) is deployed already, or half of it is, which a human must sort out."""
    verdict = Verdict("nothing deployed yet", f"{target.id} (instance {target.instance})")
    if len(deployed) == len(siblings):
        verdict.expect(False, "no tenant, schema or database yet", "; ".join(found),
                       f"instance {target.instance} is already deployed — run the postdeploy phase "
                       "(pytest --phase postdeploy) instead of cooking again, or add --resume to cook it again "
                       "on purpose (get-or-create)")
    else:
        others = ", ".join(t.hostname for t in deployed)
        verdict.expect(False, "no tenant, schema or database yet", "; ".join(found),
                       f"instance {target.instance} is half-deployed ({len(deployed)}/{len(siblings)}: {others}): "
                       "a human must decide before any cook: finish it (--resume cooks again over the tenants "
                       "already there) or clean up")
    return verdict


def judge_service_database(kind: str, database: str, facts: DatabaseFacts) -> Verdict:
    """The shared database of a Django service exists (its package creates it)."""
    verdict = Verdict("service database", f"{database} ({kind}) via {facts.source}")
    verdict.attach("database", f"{database} ({kind})", {"source": facts.source, "database": database,
                   "exists": database in facts.databases, "error": facts.error})
    verdict.expect(facts.error is None, "the database catalogue", facts.error or "", DATABASE_TODO)
    if facts.error is None:
        verdict.expect(database in facts.databases, f"database {database} exists", "absent",
                       f"create database {database} for {kind} (the package's postinst normally does)")
    return verdict


def judge_createdb_role(login: LoginFacts, facts: DatabaseFacts, skeleton: SkeletonFacts, where: str) -> Verdict:
    """The skeleton's createdb-connection-params (`where`: the skeleton and its server) log in and may
    create databases: w.c.s. creates one per tenant."""
    verdict = Verdict("createdb role", f"{login.user}@{login.host}:{login.port}/{login.database} "
                                       f"(createdb-connection-params of {where})")
    if login.refused:
        # The skeleton is a file the w.c.s. user owns: a control character there is damage or an attack.
        verdict.expect(False, "createdb-connection-params safe to use (no control character; host a host name, "
                       "an IP address or a socket directory)", f"{where}: {login.refused}; nothing was run with it",
                       f"fix that key in config.json of {skeleton.path} (re-render it: `inv render`, then cook "
                       "uploads it) and find out who wrote it")
        return verdict
    if login.via:
        verdict.note(f"login tried with {login.via}")
    verdict.expect(facts.error is None, "the database catalogue", facts.error or "", DATABASE_TODO)
    role = facts.roles.get(login.user)
    verdict.attach("database", f"createdb role {login.user}", {"source": facts.source, "login": login, "role": role})
    if role:
        verdict.note(f"role {role.name}: login={role.can_login} createdb={role.createdb} superuser={role.superuser}")
    verdict.expect(login.ok, f"the skeleton's credentials log in ({login.via or 'from here'})",
                   login.error or "login failed",
                   f"fix the password or pg_hba.conf for {login.user} (connections from the w.c.s. server "
                   f"{skeleton.role}), or the skeleton's config.json")
    if login.ok:
        verdict.expect(login.can_create_database, "CREATEDB (or superuser) on the role",
                       f"{login.user} cannot create databases",
                       f"ALTER ROLE {login.user} CREATEDB; (w.c.s. creates one database per tenant)")
    return verdict
