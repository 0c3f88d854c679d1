"""Invoke tasks: `inv --list`; each task's docstring is its --help."""

from __future__ import annotations

from pathlib import Path

from invoke import Collection, Context, Exit, task

from publik_acceptance.errors import ConfigError
from publik_acceptance.plan import Plan, load_plan
from publik_acceptance.render import render_platform
from publik_acceptance.table import format_table

ROOT = Path(__file__).resolve().parent


def _plan(env: str) -> Plan:
    try:
        return load_plan(env)
    except ConfigError as exc:
        raise Exit(f"error: {exc}", code=4) from None


@task(help={"env": "environment name (environments/NAME.yml) or path"})
def plan(c: Context, env: str) -> None:
    """Print the Plan: one row per service tenant the recipes create, with every derived name."""
    p = _plan(env)
    rows = [
        (t.kind, t.hostname, t.url, f"{t.server} ({p.environment.servers[t.server].label})", t.tenant_dir, t.owner,
         t.database if t.schema is None else f"{t.database}/{t.schema}")
        for t in p.targets
    ]
    print(f"platform {p.platform}: {len(p.targets)} services in {len(p.recipes)} instance(s)")
    print(format_table(("service", "hostname", "url", "server", "tenant dir", "owner", "database/schema"), rows))
    for drift in p.drift:
        print(f"! {drift.instance}: {drift.hostname}: {drift.problem}")


@task(help={"env": "environment name or path", "out": "output directory (default build/<platform>)"})
def render(c: Context, env: str, out: str = "") -> None:
    """Write the recipe(s) without password and modele.zip into build/<platform>/, then validate them."""
    p = _plan(env)
    try:
        rendered = render_platform(p, Path(out) if out else ROOT / "build" / p.platform)
    except ConfigError as exc:
        raise Exit(f"error: {exc}", code=4) from None
    for path in rendered.recipes:
        print(f"recipe   {path}")
    if rendered.skeleton:
        print(f"skeleton {rendered.skeleton} (mode 0600: it holds database passwords)")


ns = Collection(plan, render)
try:
    from publik_acceptance.sandbox.tasks import ns as sandbox_ns
except ImportError:  # the sandbox package is optional for users who only target real platforms
    pass
else:
    ns.add_collection(sandbox_ns, name="sandbox")
