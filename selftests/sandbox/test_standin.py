"""The hobo-manage stand-in on its own: recipe semantics, logging, no secret written anywhere.

It is a stdlib script; here it runs as the current user against a temporary state directory.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from publik_sandbox import standin
from publik_sandbox.config import StatePaths

SCRIPT = Path(standin.__file__).with_name("hobo_manage.py")
PASSWORD = "S3cret-superuser-Passw0rd"


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A sandbox state directory holding only the stand-in `hobo-manage`, pointed at this directory."""
    for sub in ("standin/hung", "agent/queue", "bin"):
        (tmp_path / sub).mkdir(parents=True)
    script = tmp_path / "bin" / "hobo-manage"
    script.write_text(SCRIPT.read_text().replace('"@STATE@"', json.dumps(str(tmp_path))))
    return tmp_path


def run(state: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-I", str(state / "bin" / "hobo-manage"), *args],
                          capture_output=True, text=True, timeout=30, cwd=state)


def recipe(state: Path, data: dict, name: str = "recipe.json") -> Path:
    path = state / name
    path.write_text(json.dumps(data))
    return path


RECIPE = {
    "variables": {"domain": "example.test", "env": "preprod-"},
    "steps": [
        {"create-hobo": {"url": "https://hobo-${env}x.${domain}/", "title": "Hobo"}},
        {"create-superuser": {"email": "admin@${domain}", "password": PASSWORD}},
        {"create-authentic": {"url": "https://connexion-${env}x.${domain}/"}},
        {"set-idp": {}},
        {"create-combo": {"url": "https://${env}x.${domain}/", "template_name": "portal-user"}},
        {"create-wcs": {"url": "https://demarches-${env}x.${domain}/", "template_name": "modele.zip"}},
    ],
}


def test_script_is_stdlib_only_and_independent_of_the_suite():
    tree = ast.parse(SCRIPT.read_text())
    modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module}
    assert "publik_acceptance" not in modules
    assert modules <= set(sys.stdlib_module_names)


def test_cook_hands_the_services_to_the_agent_and_logs_the_call(state):
    path = recipe(state, RECIPE)
    result = run(state, "cook", str(path), "-v", "2")
    assert result.returncode == 0, result.stderr
    assert "create-wcs: Creating wcs service https://demarches-preprod-x.example.test/" in result.stdout
    (message_file,) = (state / "agent" / "queue").glob("*.json")
    message = json.loads(message_file.read_text())
    assert [s["service-id"] for s in message["services"]] == ["hobo", "authentic", "combo", "wcs"]
    assert message["services"][2]["template_name"] == "portal-user"
    (entry,) = standin.cook_invocations(StatePaths(state))
    assert entry["argv"] == ["hobo-manage", "cook", str(path), "-v", "2"]
    assert {"user", "uid", "time", "cwd"} <= set(entry)


def test_the_password_is_written_nowhere(state):
    run(state, "cook", str(recipe(state, RECIPE)), "-v", "3")
    recipe_file = state / "recipe.json"
    for path in state.rglob("*"):
        if path.is_file() and path != recipe_file:
            assert PASSWORD not in path.read_text(errors="replace"), path


def test_load_variables_from_is_relative_to_the_recipe(state):
    (state / "sub").mkdir()
    (state / "sub" / "vars.json").write_text(json.dumps({"who": "ville"}))
    path = recipe(state, {"load-variables-from": "vars.json", "variables": {"tld": "test"},
                          "steps": [{"create-hobo": {"url": "https://hobo-${who}.example.${tld}/"}}]},
                  "sub/r.json")
    result = run(state, "cook", str(path), "-v", "2")
    assert result.returncode == 0 and "https://hobo-ville.example.test/" in result.stdout


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([{"create-hobo": {"url": "https://h/"}}, {"create-world": {}}], "unknown action 'create-world'"),
        ([{"create-hobo": {"url": "https://${missing}/"}}], "undefined variable ${missing}"),
        ([{"create-combo": {"title": "x"}}], "missing url"),
        ([{"create-hobo": {"url": "https://h/"}, "set-idp": {}}], "single action"),
    ],
)
def test_bad_recipes_exit_1_and_deploy_nothing(state, steps, message):
    result = run(state, "cook", str(recipe(state, {"steps": steps})))
    assert result.returncode == 1 and message in result.stderr
    assert not list((state / "agent" / "queue").iterdir())


def test_invalid_json_exits_1(state):
    path = state / "broken.json"
    path.write_text("{")
    result = run(state, "cook", str(path))
    assert result.returncode == 1 and "not valid JSON" in result.stderr


def test_help_cook_prints_usage(state):
    result = run(state, "help", "cook")
    assert result.returncode == 0 and result.stdout.startswith("usage: hobo-manage cook")
    assert standin.cook_invocations(StatePaths(state)) == []


def test_cook_fails_fault_exits_1_after_hobo(state):
    (state / "faults.json").write_text(json.dumps([{"name": "cook-fails", "hostnames": []}]))
    result = run(state, "cook", str(recipe(state, RECIPE)), "-v", "2")
    assert result.returncode == 1 and "CommandError" in result.stderr
    assert "create-hobo" in result.stdout and "create-authentic" not in result.stdout
    assert not list((state / "agent" / "queue").iterdir())


def as_manage(state: Path, name: str) -> Path:
    """The stand-in installed under another service's manage command name, as standin.install does."""
    script = state / "bin" / name
    script.write_text((state / "bin" / "hobo-manage").read_text())
    return script


def test_list_tenants_reads_the_tenant_directories_of_its_own_service(state):
    tenants = state / "root" / "var" / "lib" / "authentic2-multitenant" / "tenants"
    for host in ("connexion-x.example.test", "b.example.test", ".hidden"):
        (tenants / host).mkdir(parents=True)
    (tenants / "not-a-tenant.txt").write_text("")
    (state / "root" / "var" / "lib" / "hobo" / "tenants" / "hobo-x.example.test").mkdir(parents=True)
    script = as_manage(state, "authentic2-multitenant-manage")
    result = subprocess.run([sys.executable, "-I", str(script), "list_tenants"], capture_output=True, text=True,
                            timeout=30, cwd=state)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "b_example_test b.example.test\nconnexion_x_example_test connexion-x.example.test\n"
    assert run(state, "list_tenants").stdout == "hobo_x_example_test hobo-x.example.test\n"


def test_list_tenants_follows_the_services_tenant_mapping_and_long_names(state):
    long_host = "connexion-preprod-moncompte.communaute-de-communes-du-val-de-loire.example.test"
    tenants = state / "root" / "var" / "lib" / "combo" / "tenants"
    for host in ("portail.example.test", long_host):
        (tenants / host).mkdir(parents=True)
    settings = state / "root" / "etc" / "combo"
    settings.mkdir(parents=True)
    (settings / "tenant-mapping.json").write_text(json.dumps({"portail.example.test": "old_portail"}))
    script = as_manage(state, "combo-manage")
    out = subprocess.run([sys.executable, "-I", str(script), "list_tenants"], capture_output=True, text=True,
                         timeout=30, cwd=state).stdout
    assert out.splitlines() == [f"connexion_preprod_moncompte_c_08a8_du_val_de_loire_example_test {long_host}",
                                "old_portail portail.example.test"]


def test_only_hobo_manage_cooks(state):
    script = as_manage(state, "combo-manage")
    result = subprocess.run([sys.executable, "-I", str(script), "cook", "x.json"], capture_output=True, text=True,
                            timeout=30, cwd=state)
    assert result.returncode == 1 and "Unknown command: 'cook'" in result.stderr
    assert standin.cook_invocations(StatePaths(state)) == []
