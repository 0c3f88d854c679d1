"""The w.c.s. skeleton `modele.zip`: build it from templates (inspecting one is evidence/skeleton.py).

The zip holds `config.json` and `site-options.cfg` at its root (publik-reference.md §6). It carries
database passwords, so it is a secret file: written 0600 locally, never shown in a report.
"""

from __future__ import annotations

import io
import json
import string
import zipfile
from pathlib import Path
from typing import Any

from publik_acceptance.config.environment import Environment, SkeletonSettings
from publik_acceptance.config.errors import ConfigError
from publik_acceptance.evidence.skeleton import CONFIG_JSON, SITE_OPTIONS


def skeleton_values(settings: SkeletonSettings, database_template: str) -> dict[str, Any]:
    """Template values; secrets are resolved here (and so registered for redaction)."""
    createdb, runtime = settings.createdb, settings.runtime
    return {
        "createdb_database": createdb.database or "postgres",
        "createdb_host": createdb.host,
        "createdb_port": createdb.port,
        "createdb_user": createdb.user,
        "createdb_password": createdb.password.resolve() if createdb.password else None,
        "database_template": database_template,
        "db_host": runtime.host,
        "db_port": runtime.port,
        "db_user": runtime.user,
        "db_password": runtime.password.resolve() if runtime.password else None,
        "homepage_redirect_url": settings.homepage_redirect_url,
        "language": settings.language,
        "error_email": settings.error_email,
        "from_email": settings.from_email,
    }


def _fill(value: Any, values: dict[str, Any], origin: Path, key: str) -> Any:
    """Substitute `${name}`; a value that is exactly one placeholder keeps its type, None drops it."""
    if isinstance(value, dict):
        filled = {k: _fill(v, values, origin, f"{key}.{k}" if key else k) for k, v in value.items()}
        return {k: v for k, v in filled.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_fill(v, values, origin, f"{key}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):
        template = string.Template(value)
        names = template.get_identifiers()
        if len(names) == 1 and value.strip() in (f"${{{names[0]}}}", f"${names[0]}"):
            if names[0] not in values:
                raise ConfigError(origin, key, f"unknown placeholder ${{{names[0]}}}")
            return values[names[0]]
        try:
            return template.substitute({k: "" if v is None else v for k, v in values.items()})
        except KeyError as exc:
            raise ConfigError(origin, key, f"unknown placeholder ${{{exc.args[0]}}}") from None
    return value


def render_skeleton(settings: SkeletonSettings, database_template: str) -> bytes:
    """Build modele.zip from the template directory `settings.source`."""
    source = settings.source
    config_template = source / CONFIG_JSON
    try:
        template = json.loads(config_template.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(config_template, "", "skeleton template not found") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(config_template, f"line {exc.lineno}", f"invalid JSON: {exc.msg}") from None
    config = _fill(template, skeleton_values(settings, database_template), config_template, "")
    members = {CONFIG_JSON: json.dumps(config, indent=2, ensure_ascii=False) + "\n"}
    options = source / SITE_OPTIONS
    if options.is_file():
        members[SITE_OPTIONS] = options.read_text(encoding="utf-8")
    return _deterministic_zip(members)


def _deterministic_zip(members: dict[str, str]) -> bytes:
    """Same inputs, same bytes: the cook compares checksums to skip needless uploads."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o640 << 16
            archive.writestr(info, text)
    return buffer.getvalue()


def render_for_environment(env: Environment) -> bytes:
    if env.wcs.skeleton_file is not None:
        return env.wcs.skeleton_file.read_bytes()
    if env.wcs.skeleton is None:
        raise ConfigError(env.file, "wcs.skeleton", "no skeleton to render (give wcs.skeleton or wcs.skeleton_file)")
    return render_skeleton(env.wcs.skeleton, env.wcs.database_template)
