"""The Plan: environment + recipes + catalogue → one Target per deployed service.

Every test is parametrised over the Plan, so what is checked cannot drift from what is cooked.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from publik_acceptance.config.catalogue import (
    COMBO_EMPTY_SITE_TEXTS,
    KIND_BY_ACTION,
    LOGIN_PATH,
    LOGIN_TITLE,
    USER_PORTAL_TEMPLATE,
    Landing,
)
from publik_acceptance.config.environment import Environment, Instance, NotFoundSignature, load_environment
from publik_acceptance.config.errors import ConfigError
from publik_acceptance.config.naming import (
    django_schema_name,
    hostname,
    wcs_database_name,
    wcs_instance_path,
    wcs_legacy_tenants_dir,
)
from publik_acceptance.config.recipe import Recipe, Step, load_recipe


@dataclass(frozen=True)
class PageExpectation:
    """What `GET https://<host>/` must show once deployed (publik-reference.md §5)."""

    landing: Landing
    status: int = 200
    contains: tuple[str, ...] = ()
    title: str | None = None
    password_form: bool = False
    final_host: str | None = None  # the chain must end on this host
    final_path: str | None = None  # …at this path
    redirect_to: str | None = None  # the first hop's Location must be this URL

    def describe(self) -> str:
        if self.redirect_to:
            return f"302 to {self.redirect_to}"
        parts = []
        if self.final_host:
            parts.append(f"ends on https://{self.final_host}{self.final_path or '/'}")
        parts.append(f"status {self.status}")
        if self.title:
            parts.append(f"title {self.title!r}")
        if self.password_form:
            parts.append("a password form")
        parts.extend(f"text {text!r}" for text in self.contains)
        return ", ".join(parts)


@dataclass(frozen=True)
class Target:
    """One service tenant of one instance: everything every check needs to know about it."""

    platform: str
    instance: str
    kind: str
    slug: str
    title: str
    url: str
    hostname: str
    server: str  # SSH role holding the tenant directory
    tenant_dir: str  # server path, paths root included
    owner: str
    database: str  # Django: the service's shared database; w.c.s.: the tenant's own database
    schema: str | None  # Django services only
    template_name: str | None
    step: str  # recipe key, for messages
    not_found: NotFoundSignature
    expect: PageExpectation
    # w.c.s.: its old location (`/var/lib/wcs/<host>`), where w.c.s. still finds a tenant
    legacy_tenant_dir: str | None = None
    # Django services: the command printing `<schema> <hostname>` per tenant ("" or None: not asked)
    list_tenants: str | None = None

    @property
    def id(self) -> str:
        return f"{self.kind}|{self.hostname}"

    @property
    def per_tenant_database(self) -> bool:
        return self.schema is None


@dataclass(frozen=True)
class Drift:
    """A hostname expected by the environment that no recipe step creates, or the reverse."""

    instance: str
    hostname: str
    problem: str


@dataclass(frozen=True)
class Plan:
    environment: Environment
    recipes: dict[str, Recipe]
    targets: tuple[Target, ...]
    drift: tuple[Drift, ...]
    mirror_hostnames: dict[str, tuple[str, ...]]  # instance → hostnames mirrored from another platform

    @property
    def platform(self) -> str:
        return self.environment.platform

    def hostnames(self) -> tuple[str, ...]:
        return tuple(t.hostname for t in self.targets)

    def targets_of(self, instance: str) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if t.instance == instance)

    def instance(self, name: str) -> Instance:
        return next(i for i in self.environment.instances if i.name == name)


def build_plan(env: Environment) -> Plan:
    recipes = {inst.name: load_recipe(inst.recipe) for inst in env.instances}
    targets: list[Target] = []
    owners: dict[str, str] = {}
    for inst in env.instances:
        recipe = recipes[inst.name]
        for step in recipe.service_steps:
            target = _target(env, inst, recipe, step)
            if target.hostname in owners:
                raise ConfigError(inst.recipe, f"{step.key}.url",
                                  f"{target.hostname} is also created by instance {owners[target.hostname]}")
            owners[target.hostname] = inst.name
            targets.append(target)
    mirror = _mirror_hostnames(env)
    drift = _drift(env, recipes, mirror)
    return Plan(env, recipes, tuple(targets), drift, mirror)


def load_plan(name_or_path: str | Path) -> Plan:
    return build_plan(load_environment(name_or_path))


def _target(env: Environment, inst: Instance, recipe: Recipe, step: Step) -> Target:
    kind = KIND_BY_ACTION[step.action]
    settings = env.service(kind.name)
    url = step.url or ""
    host = hostname(url)
    tenants_dir = env.server_path(settings.tenants_dir or kind.tenants_dir)
    owner = settings.owner or kind.owner
    legacy_tenant_dir = list_tenants = None
    if kind.per_tenant_database:
        tenant_dir = f"{tenants_dir}/{wcs_instance_path(url)}"
        legacy_tenant_dir = f"{wcs_legacy_tenants_dir(tenants_dir)}/{wcs_instance_path(url)}"
        database = wcs_database_name(url, env.wcs.database_template)
        schema = None
    else:
        tenant_dir = f"{tenants_dir}/{host}"
        database = settings.database or kind.database or kind.name
        schema = django_schema_name(host)
        list_tenants = settings.list_tenants
        if list_tenants is None:
            list_tenants = f"sudo -n -u {shlex.quote(owner)} {kind.manage} list_tenants"
    template_name = step.params.get("template_name")
    return Target(
        platform=env.platform,
        instance=inst.name,
        kind=kind.name,
        slug=str(step.params.get("slug") or template_name or kind.name),
        title=str(step.params.get("title") or kind.name),
        url=url,
        hostname=host,
        server=settings.server or (kind.name if kind.name in env.servers else "hobo"),
        tenant_dir=tenant_dir,
        owner=owner,
        database=database,
        schema=schema,
        template_name=template_name,
        step=f"{inst.recipe.name}: {step.key}",
        not_found=settings.not_found or env.http.not_found,
        expect=_expectation(env, kind.name, kind.landing, recipe),
        legacy_tenant_dir=legacy_tenant_dir,
        list_tenants=list_tenants or None,
    )


def _portal_url(recipe: Recipe) -> str | None:
    combos = [s for s in recipe.service_steps if s.action == "create-combo"]
    for step in combos:
        if step.params.get("template_name") == USER_PORTAL_TEMPLATE:
            return step.url
    return combos[0].url if combos else None


def _authentic_host(recipe: Recipe) -> str | None:
    for step in recipe.service_steps:
        if step.action == "create-authentic" and step.url:
            return hostname(step.url)
    return None


def _expectation(env: Environment, kind: str, landing: Landing, recipe: Recipe) -> PageExpectation:
    override = env.service(kind).expect
    redirect = override.redirect_to
    if redirect is None:
        redirect = {Landing.LOGIN_REDIRECT: "authentic", Landing.PORTAL_REDIRECT: "portal"}.get(landing)
    login_path = override.login_path or LOGIN_PATH
    if redirect == "portal" or (redirect and redirect.startswith("https://")):
        target = redirect
        if redirect == "portal":
            portal = _portal_url(recipe) or ""
            configured = env.wcs.skeleton.homepage_redirect_url if env.wcs.skeleton else "[portal_url]"
            target = configured.replace("[portal_url]", portal)
        return PageExpectation(landing=Landing.PORTAL_REDIRECT, status=override.status or 302, redirect_to=target)
    if redirect == "authentic" or landing is Landing.LOGIN:
        return PageExpectation(
            landing=landing if redirect != "authentic" else Landing.LOGIN_REDIRECT,
            status=override.status or 200,
            title=override.title if override.title is not None else LOGIN_TITLE,
            password_form=override.password_form if override.password_form is not None else True,
            contains=override.contains or (),
            final_host=_authentic_host(recipe),
            final_path=login_path,
        )
    return PageExpectation(
        landing=Landing.PAGE,
        status=override.status or 200,
        contains=override.contains if override.contains is not None else COMBO_EMPTY_SITE_TEXTS,
        title=override.title,
        password_form=bool(override.password_form),
    )


def _mirror_hostnames(env: Environment) -> dict[str, tuple[str, ...]]:
    """Hostnames this platform must have because the platform it mirrors has them (prod ↔ preprod)."""
    if env.mirror_of is None:
        return {}
    mirrored = mirrored_environment(env)
    recipes = {inst.name: load_recipe(inst.recipe) for inst in mirrored.instances}
    result = {}
    for inst in mirrored.instances:
        names = set(recipes[inst.name].hostnames) | set(inst.expect_hostnames)
        result[inst.name] = tuple(sorted(mirror_name(n, env) for n in names))
    return result


def mirrored_environment(env: Environment) -> Environment:
    """The environment named by mirror_of: a name next to this file, or a path relative to it."""
    assert env.mirror_of is not None
    ref = env.mirror_of.environment
    path = Path(ref) if ("/" in ref or ref.endswith((".yml", ".yaml"))) else Path(f"{ref}.yml")
    return load_environment((env.file.parent / path).resolve())


def mirror_name(host: str, env: Environment) -> str:
    assert env.mirror_of is not None
    if env.mirror_of.strip:
        host = host.replace(env.mirror_of.strip, "", 1)
    return env.mirror_of.add + host


def _drift(env: Environment, recipes: dict[str, Recipe], mirror: dict[str, tuple[str, ...]]) -> tuple[Drift, ...]:
    drift = []
    # Without a mirror every expected host comes from expect_hostnames, so "mirror" is never shown.
    mirrored = f"mirror of {env.mirror_of.environment}" if env.mirror_of is not None else "mirror"
    for inst in env.instances:
        created = set(recipes[inst.name].hostnames)
        expected = set(inst.expect_hostnames) | set(mirror.get(inst.name, ()))
        for host in sorted(expected - created):
            source = "expect_hostnames" if host in inst.expect_hostnames else mirrored
            drift.append(Drift(inst.name, host, f"expected ({source}) but no step of {inst.recipe.name} creates it"))
        if inst.expect_hostnames:
            for host in sorted(created - set(inst.expect_hostnames)):
                drift.append(Drift(inst.name, host, f"created by {inst.recipe.name} but not in expect_hostnames"))
    return tuple(drift)
