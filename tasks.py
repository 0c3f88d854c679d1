"""Invoke tasks: `inv --list`; each task's docstring is its --help."""

from __future__ import annotations

import json as json_module
import shlex
import sys
from pathlib import Path

from invoke import Collection, Context, Exit, task

from publik_acceptance.config.errors import ConfigError
from publik_acceptance.config.secrets import secret_problem, secret_refs
from publik_acceptance.deploy.render import render_platform
from publik_acceptance.doctor import MISSING, examine, report
from publik_acceptance.plan import Plan, load_plan
from publik_acceptance.report.plan_view import plan_json, plan_text

ROOT = Path(__file__).resolve().parent


def _plan(env: str) -> Plan:
    try:
        return load_plan(env)
    except ConfigError as exc:
        raise Exit(f"error: {exc}", code=4) from None


@task(help={"env": "environment name (environments/NAME.yml) or path", "json": "print JSON for scripts"})
def plan(c: Context, env: str, json: bool = False) -> None:
    """Print the Plan: every service tenant the recipes create, with every derived name, one block per instance."""
    p = _plan(env)
    if json:
        print(json_module.dumps(plan_json(p), indent=2))
    else:
        print(plan_text(p))


@task(help={"env": "environment name (environments/NAME.yml) or path"})
def doctor(c: Context, env: str) -> None:
    """Know before the day: secrets, local files, resolvers, SSH logins, sudo rights and tools on the servers."""
    p = _plan(env)
    findings = examine(p)
    print(report(findings))
    if any(f.state == MISSING for f in findings):
        raise Exit(code=1)


@task(help={"env": "environment name or path", "out": "output directory (default build/<platform>)"})
def render(c: Context, env: str, out: str = "") -> None:
    """Write the recipe(s) without password and modele.zip into build/<platform>/, then validate them."""
    p = _plan(env)
    missing = [problem for ref in secret_refs(p.environment.wcs) if (problem := secret_problem(ref))]
    if missing:  # the skeleton carries the database passwords: said as doctor and the preflight say it
        raise Exit("\n".join(f"error: secret unavailable: {problem.line()}" for problem in missing), code=4)
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


def _cook_args(ticket: str, yes: bool, dry_run: bool, break_lock: bool = False, resume: bool = False) -> list[str]:
    return [*(["--ticket", ticket] if ticket else []), *(["--yes"] if yes else []),
            *(["--dry-run"] if dry_run else []), *(["--break-lock"] if break_lock else []),
            *(["--resume"] if resume else [])]


_COOK_HELP = {"env": "environment name or path", "ticket": "change ticket reference (required on protected platforms)",
              "yes": "confirm a protected platform without asking", "dry_run": "everything but the cook itself",
              "break_lock": "break a stale cook lock (its SSH session and cook are gone); never a live one",
              "resume": "cook again over this recipe's tenants already there (a partial or earlier deployment)"}


@task(help={"env": "environment name or path"})
def preflight(c: Context, env: str) -> None:
    """Run the preflight (the gate): DNS, certificates, 404s, SSH, skeleton, database rights, recipe."""
    _pytest(c, env, "preflight")


@task(help=_COOK_HELP)
def cook(c: Context, env: str, ticket: str = "", yes: bool = False, dry_run: bool = False,
         break_lock: bool = False, resume: bool = False) -> None:
    """Preflight, then the cook if the gate opens (no postdeploy)."""
    _pytest(c, env, "deploy", *_cook_args(ticket, yes, dry_run, break_lock, resume))


@task(help={"env": "environment name or path"})
def postdeploy(c: Context, env: str) -> None:
    """Check a deployment without cooking: tenants, owners, schemas, databases, pages, redirects."""
    _pytest(c, env, "postdeploy")


@task(help=_COOK_HELP)
def deploy(c: Context, env: str, ticket: str = "", yes: bool = False, dry_run: bool = False,
           break_lock: bool = False, resume: bool = False) -> None:
    """The whole runbook: preflight → cook (gated) → postdeploy, one report."""
    _pytest(c, env, "all", *_cook_args(ticket, yes, dry_run, break_lock, resume))


ns = Collection(plan, doctor, render, preflight, cook, postdeploy, deploy)
try:
    from publik_sandbox.tasks import ns as sandbox_ns
except ImportError:  # the sandbox package is optional for users who only target real platforms
    pass
else:
    ns.add_collection(sandbox_ns, name="sandbox")
