"""One source for the configuration: the README's environment reference and the loader's defaults both
come from the declarations in config/environment.py, and this fails as soon as either drifts."""

from __future__ import annotations

from dataclasses import MISSING, is_dataclass
from pathlib import Path
from typing import get_type_hints

import pytest
import yaml

from publik_acceptance.config import environment as env_module
from publik_acceptance.config.environment import (
    CookSettings,
    DatabaseSettings,
    Environment,
    HttpSettings,
    PostdeploySettings,
    RunSettings,
    ServiceSettings,
    SshSettings,
    TlsSettings,
    WcsSettings,
    load_environment,
)
from publik_acceptance.config.reference import END, README, START, reference, replace_block, scalar
from publik_acceptance.config.schema import declared, key_of

SETTINGS = [cls for cls in vars(env_module).values() if is_dataclass(cls) and declared(cls)]


def test_readme_reference_is_generated_from_the_declarations() -> None:
    readme = README.read_text(encoding="utf-8")
    assert START in readme and END in readme
    assert replace_block(readme, reference()) == readme, (
        "README's environment reference differs from the declarations in publik_acceptance/config/environment.py: "
        "run `python -m publik_acceptance.config.reference` (edit the declarations, never the block)"
    )


def test_the_reference_is_yaml_showing_every_declared_key() -> None:
    shown = yaml.safe_load(reference().removeprefix("```yaml\n").removesuffix("```\n"))
    assert set(shown) == {key_of(f).split(".")[0] for f in declared(Environment)}
    hints = get_type_hints(Environment)
    for f in declared(Environment):
        if is_dataclass(hints[f.name]):
            assert set(shown[f.name]) == {key_of(g) for g in declared(hints[f.name])}, f.name


@pytest.mark.parametrize("cls", SETTINGS, ids=[cls.__name__ for cls in SETTINGS])
def test_each_shown_default_reads_back_as_the_default(cls: type) -> None:
    """What the README prints for a default is, read as YAML, the value the loader uses."""
    for f in declared(cls):
        if f.default is MISSING or f.metadata["example"] is not None:
            continue
        expected = list(f.default) if isinstance(f.default, tuple) else f.default
        assert yaml.safe_load(scalar(f.default)) == expected, f"{cls.__name__}.{f.name}"


def test_an_environment_naming_only_required_keys_gets_the_declared_defaults(tmp_path: Path) -> None:
    (tmp_path / "recipe.json").write_text("{}")
    (tmp_path / "environment.yml").write_text(
        "platform: minimal\n"
        "instances: [{name: ville, recipe: recipe.json, superuser_password: {env: SOME_PASSWORD}}]\n"
        "servers: {hobo: admin@app1.example.test, database: admin@db1.example.test}\n"
        "dns: {resolvers: ['192.0.2.53']}\n"
        "services: {combo: {}}\n"
    )
    env = load_environment(tmp_path / "environment.yml")
    assert (env.ssh, env.tls, env.http, env.wcs, env.database, env.cook, env.postdeploy, env.run) == (
        SshSettings(), TlsSettings(), HttpSettings(), WcsSettings(), DatabaseSettings(), CookSettings(),
        PostdeploySettings(), RunSettings())
    assert env.services == {"combo": ServiceSettings()}
    assert (env.protected, env.paths_root, env.mirror_of, env.waivers) == (False, "/", None, ())
    assert env.dns.expect_addresses == () and env.dns.timeout == 3.0 and env.dns.ipv6 is True
    assert env.instances[0].expect_hostnames == ()
    assert env.servers["hobo"].port == 22
