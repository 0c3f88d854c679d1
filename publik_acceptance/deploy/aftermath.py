"""After a cook that failed or was interrupted: where things stand now, and what to do next.

The tenant directories are looked at once (one remote command per server). Nothing is changed: the
clean-up commands for a fresh start are printed for the operator to run by hand, never run.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from publik_acceptance.evidence.prober import Prober
from publik_acceptance.evidence.probes.remote import SshPool
from publik_acceptance.evidence.servers import Questions, gather
from publik_acceptance.plan import Plan, Target


@dataclass(frozen=True)
class Standing:
    """Which tenants of the Plan exist on the platform right after the cook."""

    present: tuple[Target, ...]
    absent: tuple[Target, ...]
    unknown: tuple[tuple[Target, str], ...]  # the server could not be asked: why


def look(plan: Plan, pool: SshPool, prober: Prober) -> Standing:
    questions = Questions()
    for target in plan.targets:
        questions.stats[target.server].add(target.tenant_dir)
    facts = gather(plan.environment, pool, prober, questions)
    present, absent, unknown = [], [], []
    for target in plan.targets:
        server = facts[target.server]
        path = server.paths.get(target.tenant_dir)
        if server.error or path is None:
            unknown.append((target, server.error or "no answer"))
        elif path.exists:
            present.append(target)
        else:
            absent.append(target)
    return Standing(tuple(present), tuple(absent), tuple(unknown))


def _sql_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def cleanup_commands(plan: Plan, targets: tuple[Target, ...]) -> list[str]:
    """What an operator would run by hand to start over: tenant directories moved aside (not deleted),
    then each tenant's schema or w.c.s. database dropped. Printed, never run."""
    env = plan.environment
    lines = []
    for target in targets:
        server = env.servers[target.server].label
        lines.append(f"on {server} (role {target.server}), as root: mv {shlex.quote(target.tenant_dir)} "
                     f"{shlex.quote(target.tenant_dir + '.failed-cook')}")
    for target in targets:
        if target.schema:
            sql = f"DROP SCHEMA IF EXISTS {_sql_identifier(target.schema)} CASCADE;"
            lines.append(f"in database {target.database} ({env.database.server}): {sql}")
        else:
            lines.append(f"on {env.database.server}: DROP DATABASE IF EXISTS {_sql_identifier(target.database)};")
    return lines


def where_things_stand(plan: Plan, pool: SshPool, prober: Prober, env_name: str) -> str:
    """A few lines for the cook's failure message: what exists now, then what to do."""
    try:
        standing = look(plan, pool, prober)
    except Exception as exc:
        return f"where things stand: could not look at the tenants ({exc})"
    return describe(plan, standing, env_name)


def describe(plan: Plan, standing: Standing, env_name: str) -> str:
    """What exists now (`standing`), then what to do: postdeploy, --resume, or the clean-up by hand."""
    total = len(plan.targets)
    lines = [f"where things stand: {len(standing.present)} of {total} tenant(s) exist now"]
    if standing.present:
        lines.append("  present: " + ", ".join(t.id for t in standing.present))
    if standing.absent:
        lines.append("  absent: " + ", ".join(t.id for t in standing.absent))
    for target, why in standing.unknown:
        lines.append(f"  unknown: {target.id}: {why}")
    if not standing.present and not standing.unknown:
        lines.append("to do: nothing was deployed; fix the cause above, then run the deploy again")
        return "\n".join(lines)
    lines.append(f"to do: the deployment goes on asynchronously; check it with `pytest --env {env_name} --phase "
                 "postdeploy`. Cook is get-or-create: once the cause is fixed, cook again over the tenants already "
                 f"there with `pytest --env {env_name} --phase all --resume` (without --resume the gate refuses "
                 "tenants that already exist). To start over instead, by hand (printed, never run):")
    lines += [f"  {line}" for line in cleanup_commands(plan, standing.present)]
    return "\n".join(lines)
