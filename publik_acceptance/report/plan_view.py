"""`inv plan`: the Plan for a person (one block per instance, within a terminal's width) or for a script."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from publik_acceptance.plan import Plan, Target

WIDTH = 100
LABEL = 10  # "  database" and its value column
INDENT = 4


def _field(label: str, value: str, width: int) -> list[str]:
    """`label  value`, long values (paths, URLs) wrapped under the value column, never cut."""
    lead = " " * INDENT + f"{label:<{LABEL}}"
    room = max(width - len(lead), 20)
    parts = textwrap.wrap(value, room, break_long_words=True, break_on_hyphens=False) or [""]
    return [lead + parts[0]] + [" " * len(lead) + part for part in parts[1:]]


def _target_lines(plan: Plan, target: Target, width: int) -> list[str]:
    server = plan.environment.servers[target.server]
    database = target.database if target.schema is None else f"{target.database}, schema {target.schema}"
    head = textwrap.wrap(f"{target.kind}  {target.url}", width - 2, break_long_words=True) or [target.kind]
    lines = ["  " + head[0]] + ["  " + line for line in head[1:]]
    lines += _field("server", f"{target.server} ({server.label})", width)
    lines += _field("tenant", target.tenant_dir, width)
    lines += _field("owner", target.owner, width)
    lines += _field("database", database, width)
    return lines


def _shown(path: Path) -> str:
    """A recipe path as the operator would type it: relative to where they stand, when it is below."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def plan_text(plan: Plan, width: int = WIDTH) -> str:
    """Every service tenant the recipes create, with every derived name, one block per instance."""
    out = [f"platform {plan.platform}: {len(plan.targets)} services in {len(plan.recipes)} instance(s)"]
    for instance in plan.environment.instances:
        targets = [t for t in plan.targets if t.instance == instance.name]
        title = f"instance {instance.name} ({len(targets)} services, recipe {_shown(instance.recipe)})"
        out += ["", *textwrap.wrap(title, width, break_long_words=True)]
        for target in targets:
            out += _target_lines(plan, target, width)
    drift = [f"! {d.instance}: {d.hostname}: {d.problem}" for d in plan.drift]
    if drift:
        out += ["", *(line for d in drift for line in textwrap.wrap(d, width, subsequent_indent="  "))]
    return "\n".join(out)


def plan_json(plan: Plan) -> dict[str, Any]:
    """The same for scripts: one object per Target, plus the drift between environment and recipes."""
    return {
        "platform": plan.platform,
        "instances": [{"name": i.name, "recipe": str(i.recipe)} for i in plan.environment.instances],
        "targets": [{
            "instance": t.instance, "service": t.kind, "slug": t.slug, "hostname": t.hostname, "url": t.url,
            "server": t.server, "server_login": plan.environment.servers[t.server].label,
            "tenant_dir": t.tenant_dir, "owner": t.owner, "database": t.database, "schema": t.schema,
        } for t in plan.targets],
        "drift": [{"instance": d.instance, "hostname": d.hostname, "problem": d.problem} for d in plan.drift],
    }
