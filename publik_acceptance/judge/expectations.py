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
from dataclasses import dataclass, field
from enum import Enum

from publik_acceptance.config.catalogue import WCS_DEPLOYING_HOSTNAME
from publik_acceptance.evidence.probes.facts import PathFacts
from publik_acceptance.evidence.probes.postgres import DatabaseFacts
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
    directory = paths.get(target.tenant_dir)
    hobo_json = paths.get(f"{target.tenant_dir}/hobo.json")
    expected = f"tenant directory {target.tenant_dir} owned by {target.owner}, with hobo.json"
    evidence = tuple(p.describe() for p in (directory, hobo_json) if p is not None)
    if directory is None or not directory.exists:
        return Judgement(State.PENDING, expected, "tenant directory absent",
                         f"check hobo-agent and the {target.kind} deployment logs on {target.server}", evidence)
    if directory.kind != "directory":
        return Judgement(State.WRONG, expected, f"{target.tenant_dir} is a {directory.kind}",
                         "remove what is in the way and redeploy", evidence)
    if directory.owner != target.owner:
        return Judgement(State.WRONG, expected, f"owned by {directory.owner}:{directory.group}",
                         f"chown -R {target.owner}: {target.tenant_dir} (the service runs as {target.owner})",
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
        config_pck = paths.get(f"{target.tenant_dir}/config.pck")
        if (config_pck is None or not config_pck.exists) and site_options is None:
            return Judgement(State.PENDING, expected, "neither config.pck nor site-options.cfg yet",
                             "w.c.s. deployment did not finish", evidence)
    return ok(expected, f"present, owner {directory.owner}", evidence)


def _allowed_hostname(site_options: bytes | None) -> str | None:
    if not site_options:
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(site_options.decode("utf-8", "replace"))
    except configparser.Error:
        return None
    return parser.get("options", "allowed_hostname", fallback=None)


def judge_database(target: Target, facts: DatabaseFacts, tenant: Judgement) -> Judgement:
    """Schema (Django) or database with wcs_meta (w.c.s.); missing while the tenant is complete is wrong:
    w.c.s. creates its database only with a new tenant directory and never retries."""
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
