"""Database: the skeleton's createdb role can log in and create databases; service databases exist."""

from __future__ import annotations

from publik_acceptance.evidence.preflight import PreflightEvidence
from publik_acceptance.judge.checks import not_applicable, skip_unchecked
from publik_acceptance.judge.preflight import judge_createdb_role, judge_service_database
from publik_acceptance.plan import Plan


def test_service_database(plan: Plan, preflight: PreflightEvidence, django_database: tuple[str, str]) -> None:
    kind, database = django_database
    if plan.environment.database.direct is None and preflight.servers[plan.environment.database.server].error:
        skip_unchecked(f"the {plan.environment.database.server} server is unreachable: see test_ssh")
    judge_service_database(kind, database, preflight.database).conclude()


def test_createdb_role(plan: Plan, preflight: PreflightEvidence) -> None:
    wcs = [t for t in plan.targets if t.kind == "wcs"]
    if not wcs:
        not_applicable("no w.c.s. service planned")
    skeleton = preflight.skeleton(wcs[0])
    if skeleton.report is None or not skeleton.report.createdb_params:
        skip_unchecked("no readable skeleton with createdb-connection-params: see test_wcs_skeleton")
    login = preflight.database.login
    assert login is not None  # gathered whenever the skeleton has createdb-connection-params
    where = f"{skeleton.path} on {preflight.pool.describe(skeleton.role)}"
    judge_createdb_role(login, preflight.database, skeleton, where).conclude()
