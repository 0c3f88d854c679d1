"""`inv render`: write what the cook needs (recipe without password, modele.zip) and check it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from publik_acceptance.config.errors import ConfigError
from publik_acceptance.config.recipe import load_recipe, render_without_secrets
from publik_acceptance.deploy.skeleton import render_for_environment
from publik_acceptance.evidence.skeleton import inspect_skeleton
from publik_acceptance.plan import Plan


@dataclass(frozen=True)
class Rendered:
    recipes: tuple[Path, ...]
    skeleton: Path | None


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write atomically with the final mode from the start (the skeleton holds passwords)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def render_platform(plan: Plan, out_dir: Path) -> Rendered:
    out_dir.mkdir(parents=True, exist_ok=True)
    recipes = []
    for name, recipe in plan.recipes.items():
        path = out_dir / f"recipe-{name}-{plan.platform}.json"
        _write(path, render_without_secrets(recipe).encode(), 0o644)
        load_recipe(path)  # what we wrote must load and validate like the source
        recipes.append(path)
    skeleton = None
    if any(t.kind == "wcs" for t in plan.targets):
        data = render_for_environment(plan.environment)
        report = inspect_skeleton(data)
        if report.problems:
            raise ConfigError(plan.environment.file, "wcs.skeleton", "; ".join(report.problems))
        skeleton = out_dir / _skeleton_name(plan)
        _write(skeleton, data, 0o600)
    return Rendered(tuple(recipes), skeleton)


def _skeleton_name(plan: Plan) -> str:
    names = {t.template_name for t in plan.targets if t.kind == "wcs" and t.template_name}
    return sorted(names)[0] if len(names) == 1 else "modele.zip"
