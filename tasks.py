"""Invoke tasks: `inv --list`; each task's docstring is its --help."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from invoke import Collection, Context, Exit, task

from publik_acceptance.config.errors import ConfigError
from publik_acceptance.deploy.render import render_platform
from publik_acceptance.plan import Plan, load_plan
from publik_acceptance.report.table import format_table

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


def _pytest(c: Context, env: str, phase: str, *extra: str) -> None:
    _plan(env)  # a bad environment stops here with one line
    args = " ".join(shlex.quote(a) for a in ("--env", env, "--phase", phase, *extra))
    result = c.run(f"{shlex.quote(sys.executable)} -m pytest {args}", warn=True, pty=False)
    if result is None or result.exited:
        raise Exit(code=result.exited if result is not None else 1)


def _cook_args(ticket: str, yes: bool, dry_run: bool, break_lock: bool = False) -> list[str]:
    return [*(["--ticket", ticket] if ticket else []), *(["--yes"] if yes else []),
            *(["--dry-run"] if dry_run else []), *(["--break-lock"] if break_lock else [])]


_COOK_HELP = {"env": "environment name or path", "ticket": "change ticket reference (required on protected platforms)",
              "yes": "confirm a protected platform without asking", "dry_run": "everything but the cook itself",
              "break_lock": "break a stale cook lock (its SSH session and cook are gone); never a live one"}


@task(help={"env": "environment name or path"})
def preflight(c: Context, env: str) -> None:
    """Run the preflight (the gate): DNS, certificates, 404s, SSH, skeleton, database rights, recipe."""
    _pytest(c, env, "preflight")


@task(help=_COOK_HELP)
def cook(c: Context, env: str, ticket: str = "", yes: bool = False, dry_run: bool = False,
         break_lock: bool = False) -> None:
    """Preflight, then the cook if the gate opens (no postdeploy)."""
    _pytest(c, env, "deploy", *_cook_args(ticket, yes, dry_run, break_lock))


@task(help={"env": "environment name or path"})
def postdeploy(c: Context, env: str) -> None:
    """Check a deployment without cooking: tenants, owners, schemas, databases, pages, redirects."""
    _pytest(c, env, "postdeploy")


@task(help=_COOK_HELP)
def deploy(c: Context, env: str, ticket: str = "", yes: bool = False, dry_run: bool = False,
           break_lock: bool = False) -> None:
    """The whole runbook: preflight → cook (gated) → postdeploy, one report."""
    _pytest(c, env, "all", *_cook_args(ticket, yes, dry_run, break_lock))


ns = Collection(plan, render, preflight, cook, postdeploy, deploy)
try:
    from publik_sandbox.tasks import ns as sandbox_ns
except ImportError:  # the sandbox package is optional for users who only target real platforms
    pass
else:
    ns.add_collection(sandbox_ns, name="sandbox")
