"""Database: the skeleton's createdb role can log in and create databases; service databases exist."""

from __future__ import annotations

from publik_acceptance.evidence.preflight import PreflightEvidence
from publik_acceptance.judge.checks import Verdict, not_applicable, skip_unchecked
from publik_acceptance.plan import Plan


def test_service_database(plan: Plan, preflight: PreflightEvidence, django_database: tuple[str, str]) -> None:
    kind, database = django_database
    if plan.environment.database.direct is None and preflight.servers[plan.environment.database.server].error:
        skip_unchecked(f"the {plan.environment.database.server} server is unreachable: see test_ssh")
    facts = preflight.database
    verdict = Verdict("service database", f"{database} ({kind}) via {facts.source}")
    verdict.attach("database", f"{database} ({kind})", {"source": facts.source, "database": database,
                   "exists": database in facts.databases, "error": facts.error})
    verdict.expect(facts.error is None, "the database catalogue", facts.error or "",
                   "check database.server / database.psql (or database.direct) and that PostgreSQL runs")
    if facts.error is None:
        verdict.expect(database in facts.databases, f"database {database} exists", "absent",
                       f"create database {database} for {kind} (the package's postinst normally does)")
    verdict.conclude()


def test_createdb_role(plan: Plan, preflight: PreflightEvidence) -> None:
    wcs = [t for t in plan.targets if t.kind == "wcs"]
    if not wcs:
        not_applicable("no w.c.s. service planned")
    skeleton = preflight.skeleton(wcs[0])
    if skeleton.report is None or not skeleton.report.createdb_params:
        skip_unchecked("no readable skeleton with createdb-connection-params: see test_wcs_skeleton")
    facts = preflight.database
    login = facts.login
    assert login is not None
    where = f"{skeleton.path} on {preflight.pool.describe(skeleton.role)}"
    verdict = Verdict("createdb role", f"{login.user}@{login.host}:{login.port}/{login.database} "
                                       f"(createdb-connection-params of {where})")
    if login.refused:
        # The skeleton is a file the w.c.s. user owns: a control character there is damage or an attack.
        verdict.expect(False, "createdb-connection-params safe to use (no control character; host a host name, "
                       "an IP address or a socket directory)", f"{where}: {login.refused}; nothing was run with it",
                       f"fix that key in config.json of {skeleton.path} (re-render it: `inv render`, then cook "
                       "uploads it) and find out who wrote it")
        verdict.conclude()
    if login.via:
        verdict.note(f"login tried with {login.via}")
    verdict.expect(facts.error is None, "the database catalogue", facts.error or "",
                   "check database.server / database.psql (or database.direct) and that PostgreSQL runs")
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
    verdict.conclude()
