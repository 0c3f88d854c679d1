"""Judging observed state against the Plan: each judgement is ok, pending (may still come), or wrong.

"Pending" is what an asynchronous deployment looks like before it is done (absent directory, 404,
503 while deploying); "wrong" is a state that waiting does not usually fix (wrong owner, a 500, a
redirect elsewhere). The postdeploy collector keeps polling pending items until the deadline, and
settles a wrong one early only when the same wrong state is seen several polls in a row.

This module holds the judgement itself and the tenant and database judges; the page judge, which
reads a redirect chain, has its own module (page.py).
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field, replace
from enum import Enum

from publik_acceptance.config.catalogue import WCS_DEPLOYING_HOSTNAME
from publik_acceptance.evidence.listing import TenantListing
from publik_acceptance.evidence.probes.facts import PathFacts
from publik_acceptance.evidence.probes.postgres import DatabaseFacts
from publik_acceptance.evidence.servers import found_tenant_dir, place_name
from publik_acceptance.plan import Target


class State(Enum):
    OK = "ok"
    PENDING = "pending"
    WRONG = "wrong"


@dataclass(frozen=True)
class Judgement:
    state: State
    expected: str
    actual: str
    todo: str = ""
    evidence: tuple[str, ...] = field(default_factory=tuple)
    final: bool = False  # wrong, and waiting will not change it (SSH refused us): settle at once

    @property
    def signature(self) -> tuple[str, str]:
        """What must stay the same across polls for a wrong state to count as stable."""
        return (self.state.value, self.actual)


def ok(expected: str, actual: str, evidence: tuple[str, ...] = ()) -> Judgement:
    return Judgement(State.OK, expected, actual, evidence=evidence)


def judge_tenant(target: Target, paths: dict[str, PathFacts], site_options: bytes | None) -> Judgement:
    """The tenant directory where the service looks for it: w.c.s. also finds one at its old location
    (`/var/lib/wcs/<host>`), which counts, and the judgement says which place it is."""
    place = found_tenant_dir(target, paths) or target.tenant_dir
    directory = paths.get(place)
    hobo_json = paths.get(f"{place}/hobo.json")
    legacy = f" (or w.c.s.'s old location {target.legacy_tenant_dir})" if target.legacy_tenant_dir else ""
    expected = f"tenant directory {target.tenant_dir}{legacy} owned by {target.owner}, with hobo.json"
    evidence = tuple(p.describe() for p in (directory, hobo_json) if p is not None)
    other = paths.get(target.legacy_tenant_dir or "") if place == target.tenant_dir else None
    if other is not None and other.exists and directory is not None and directory.exists:
        evidence += (f"also {other.describe()}: w.c.s.'s old location, ignored while {place} exists",)
    at = f" at {place_name(target, place)}" if place != target.tenant_dir else ""
    if at:
        evidence += (f"found at {place_name(target, place)}, not under {target.tenant_dir}: w.c.s. looks "
                     "there after tenants/ and serves it",)
    if directory is None or not directory.exists:
        return Judgement(State.PENDING, expected, "tenant directory absent",
                         f"check hobo-agent and the {target.kind} deployment logs on {target.server}", evidence)
    if directory.kind != "directory":
        return Judgement(State.WRONG, expected, f"{place} is a {directory.kind}",
                         "remove what is in the way and redeploy", evidence)
    if directory.owner != target.owner:
        return Judgement(State.WRONG, expected, f"owned by {directory.owner}:{directory.group}{at}",
                         f"chown -R {target.owner}: {place} (the service runs as {target.owner})",
                         evidence)
    if hobo_json is None or not hobo_json.exists:
        return Judgement(State.PENDING, expected, "hobo.json not written yet",
                         "the deployment of this tenant did not finish: check hobo-agent's logs", evidence)
    if target.kind == "wcs":
        marker = _allowed_hostname(site_options)
        if marker == WCS_DEPLOYING_HOSTNAME:
            return Judgement(State.PENDING, expected, f"site-options.cfg still says allowed_hostname = {marker}",
                             "w.c.s. deployment still in progress or interrupted: check wcs-manage hobo_deploy",
                             evidence)
        config_pck = paths.get(f"{place}/config.pck")
        if (config_pck is None or not config_pck.exists) and site_options is None:
            return Judgement(State.PENDING, expected, "neither config.pck nor site-options.cfg yet",
                             "w.c.s. deployment did not finish", evidence)
    return ok(expected, f"present{at}, owner {directory.owner}", evidence)


def _allowed_hostname(site_options: bytes | None) -> str | None:
    if not site_options:
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(site_options.decode("utf-8", "replace"))
    except configparser.Error:
        return None
    return parser.get("options", "allowed_hostname", fallback=None)


def judge_database(target: Target, facts: DatabaseFacts, tenant: Judgement,
                   listing: TenantListing | None = None) -> Judgement:
    """Schema (Django) or database with wcs_meta (w.c.s.); missing while the tenant is complete is wrong:
    w.c.s. creates its database only with a new tenant directory and never retries.

    `listing`: what the service's own `list_tenants` said this round. When it names another schema
    for the host than the Plan derives, that is wrong (both names are shown) and the schema looked
    for is the server's, since that is the one the service uses."""
    judgement = _judge_database(target, facts, tenant, listing)
    return replace(judgement, evidence=judgement.evidence + _listing_evidence(target, listing))


def _reported_schema(target: Target, listing: TenantListing | None) -> str | None:
    return listing.schema_of(target.hostname) if listing is not None and listing.error is None else None


def _listing_evidence(target: Target, listing: TenantListing | None) -> tuple[str, ...]:
    if listing is None or target.schema is None:
        return ()
    reported = _reported_schema(target, listing)
    if listing.error:
        said = "not compared with the Plan's name"
    elif reported is None:
        said = f"{target.hostname} not listed (yet)"
    elif reported == target.schema:
        said = f"agrees: schema {reported} for {target.hostname}"
    else:
        said = f"says schema {reported} for {target.hostname}, the Plan derives {target.schema}"
    conflict = " (listed twice with different schemas)" if target.hostname in listing.conflicts else ""
    return (f"{listing.describe()} — {said}{conflict}",)


def _judge_database(target: Target, facts: DatabaseFacts, tenant: Judgement,
                    listing: TenantListing | None) -> Judgement:
    settled_tenant = tenant.state is State.OK
    if facts.error and facts.hopeless:
        return Judgement(State.WRONG, "database facts", facts.error,
                         "fix SSH access to the database server (database.server), then run the postdeploy phase",
                         final=True)
    if facts.error:
        return Judgement(State.PENDING, "database facts", facts.error, "check database access settings")
    if target.schema:
        expected = f"schema {target.schema} in database {target.database}"
        if target.database not in facts.databases:
            return Judgement(State.WRONG, expected, f"database {target.database} does not exist",
                             f"create the {target.kind} database; its packages normally do")
        reported = _reported_schema(target, listing)
        if listing is not None and reported is not None and reported != target.schema:
            present = reported in facts.schemas.get(target.database, frozenset())
            return Judgement(
                State.WRONG, expected + " (the name the Plan derives from the hostname)",
                f"{listing.name} on role {target.server} reports schema {reported} for {target.hostname}, not "
                f"{target.schema}; schema {reported} (the server's name, checked instead) is "
                f"{'present' if present else 'absent'} in database {target.database}",
                f"find out why {target.kind} names this tenant's schema {reported}: a TENANT_MAPPING in its "
                "settings, or a naming rule other than the hostname with '.' and '-' as '_' (long names?); "
                "fix the service, or the Plan's rule if Publik changed it")
        if facts.has_schema(target.database, target.schema):
            return ok(expected, "present")
        return Judgement(State.WRONG if settled_tenant else State.PENDING, expected, "schema absent",
                         f"redeploy the tenant ({target.kind}-manage hobo_deploy) and check its logs for "
                         "database errors")
    expected = f"database {target.database} with table wcs_meta"
    if target.database not in facts.databases:
        return Judgement(State.WRONG if settled_tenant else State.PENDING, expected, "database absent",
                         "w.c.s. could not create it (createdb-connection-params, CREATEDB right, PostgreSQL "
                         "reachable?) and will not retry: fix, then delete the tenant directory and cook again")
    if not facts.wcs_meta.get(target.database):
        return Judgement(State.WRONG if settled_tenant else State.PENDING, expected, "database without wcs_meta",
                         "w.c.s. did not initialise the database: check wcs-manage's output")
    return ok(expected, "present, with wcs_meta")
