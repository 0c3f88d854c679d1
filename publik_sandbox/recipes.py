"""The sandbox's recipes: the project's preprod recipe, re-pointed at the sandbox zone.

Each instance gets its own copy with `domain`, `collectivite`, `env` and the admin e-mail overridden.
The services listed here drive the DNS zone, the certificates and the frontends. This is a small
expansion of its own (variables and `${…}` only), independent of the suite's recipe code.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from publik_acceptance.config.catalogue import KIND_BY_ACTION
from publik_sandbox.config import SandboxConfig


@dataclass(frozen=True)
class Service:
    kind: str  # hobo, authentic, combo, wcs, …
    url: str
    title: str
    slug: str
    template_name: str | None

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()

    def names(self) -> set[str]:
        """What a fault's TARGET may call this service: its kind, template, slug or hostname."""
        names = {self.kind, self.slug, self.host}
        if self.template_name:
            names.add(self.template_name)
        return names

    def hobo_entry(self) -> dict[str, object]:
        """This service as hobo lists it in hobo.json."""
        return {
            "service-id": self.kind,
            "slug": self.slug,
            "title": self.title,
            "base_url": self.url,
            "template_name": self.template_name or "",
        }


@dataclass(frozen=True)
class SandboxInstance:
    name: str
    recipe: Path
    services: tuple[Service, ...]
    superuser_email: str | None = None  # the recipe's create-superuser email (the IdP's superuser)

    @property
    def hostnames(self) -> list[str]:
        return [s.host for s in self.services]

    def find(self, target: str) -> Service | None:
        for service in self.services:
            if target.lower() in service.names():
                return service
        return None


def slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "service"


def recipe_variables(config: SandboxConfig, name: str) -> dict[str, str]:
    return {
        "env": config.env_prefix,
        "collectivite": name,
        "domain": config.zone,
        "admin_email": f"admin-publik@{config.zone}",
    }


def services_of(recipe: dict) -> tuple[Service, ...]:
    variables = dict(recipe.get("variables", {}))
    services = []
    for step in recipe.get("steps", []):
        ((action, params),) = step.items()
        kind = KIND_BY_ACTION[action].name if action in KIND_BY_ACTION else None
        if kind is None:
            continue
        values = {
            k: string.Template(v).substitute(variables) if isinstance(v, str) else v
            for k, v in params.items()
        }
        title = values.get("title") or kind
        services.append(
            Service(
                kind=kind,
                url=values["url"],
                title=title,
                slug=values.get("slug") or (values.get("template_name") if kind == "combo" else None)
                or slugify(kind),
                template_name=values.get("template_name"),
            )
        )
    return tuple(services)


def superuser_email_of(recipe: dict) -> str | None:
    """The create-superuser step's email (hobo's default `admin@localhost` when it has none), or None."""
    variables = dict(recipe.get("variables", {}))
    for step in recipe.get("steps", []):
        ((action, params),) = step.items()
        if action == "create-superuser":
            email = (params or {}).get("email") or "admin@localhost"
            return string.Template(email).substitute(variables) if isinstance(email, str) else None
    return None


def write_recipes(config: SandboxConfig, recipes_dir: Path, write: bool = True) -> list[SandboxInstance]:
    """One recipe per instance under `recipes_dir`; returns what each one will create.

    With `write=False` nothing is written (to validate fault targets before touching anything).
    """
    template = json.loads(config.recipe_template.read_text(encoding="utf-8"))
    if write:
        recipes_dir.mkdir(parents=True, exist_ok=True)
    instances = []
    for name in config.instance_names():
        recipe = dict(template)
        recipe["variables"] = {**template.get("variables", {}), **recipe_variables(config, name)}
        path = recipes_dir / f"{name}.json"
        if write:
            path.write_text(json.dumps(recipe, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            path.chmod(0o644)
        instances.append(SandboxInstance(name=name, recipe=path, services=services_of(recipe),
                                         superuser_email=superuser_email_of(recipe)))
    return instances
