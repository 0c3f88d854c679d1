"""The Plan derived from the runbook's environments, and per-environment overrides."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from publik_acceptance.config.catalogue import Landing
from publik_acceptance.config.recipe import load_recipe, render_for_cook
from publik_acceptance.plan import load_plan

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK_HOSTS = {
    "hobo": "hobo-preprod-moncompte.macollectivite.fr",
    "authentic": "connexion-preprod-moncompte.macollectivite.fr",
    "wcs": "demarches-preprod-moncompte.macollectivite.fr",
    "passerelle": "passerelle-preprod-moncompte.macollectivite.fr",
    "fargo": "portedoc-preprod-moncompte.macollectivite.fr",
}


def test_preprod_plan_has_the_seven_runbook_hostnames() -> None:
    plan = load_plan("preprod")
    by_host = {t.hostname: t for t in plan.targets}
    assert len(plan.targets) == 7
    for kind, host in RUNBOOK_HOSTS.items():
        assert by_host[host].kind == kind
    combos = sorted(t.hostname for t in plan.targets if t.kind == "combo")
    assert combos == ["agents-preprod-moncompte.macollectivite.fr", "preprod-moncompte.macollectivite.fr"]
    wcs = by_host[RUNBOOK_HOSTS["wcs"]]
    assert wcs.database == "wcs_demarches_preprod_moncompte_macollectivite_fr"
    assert wcs.tenant_dir == "/var/lib/wcs/tenants/demarches-preprod-moncompte.macollectivite.fr"
    assert wcs.schema is None and wcs.server == "wcs" and wcs.owner == "wcs"
    authentic = by_host[RUNBOOK_HOSTS["authentic"]]
    assert authentic.database == "authentic2_multitenant"
    assert authentic.schema == "connexion_preprod_moncompte_macollectivite_fr"
    assert authentic.owner == "authentic-multitenant"
    assert plan.drift == ()


def test_expectations_follow_the_runbook() -> None:
    plan = load_plan("preprod")
    by_kind = {t.kind: t for t in plan.targets}
    assert by_kind["wcs"].expect.redirect_to == "https://preprod-moncompte.macollectivite.fr/"
    assert by_kind["hobo"].expect.final_host == RUNBOOK_HOSTS["authentic"]
    assert by_kind["hobo"].expect.final_path == "/login/"
    assert by_kind["authentic"].expect.landing is Landing.LOGIN
    assert "Votre installation de Combo fonctionne" in by_kind["combo"].expect.contains


def test_prod_mirrors_preprod_minus_prefix() -> None:
    plan = load_plan("prod")
    assert plan.environment.protected
    assert set(plan.mirror_hostnames["macollectivite"]) == set(plan.hostnames())
    assert "demarches-moncompte.macollectivite.fr" in plan.hostnames()
    assert plan.drift == ()


def _variant(tmp_path: Path, edit) -> Path:
    data = yaml.safe_load((ROOT / "environments/preprod.yml").read_text())
    data["instances"][0]["recipe"] = str(ROOT / "fixtures/recipes/macollectivite-preprod.json")
    data["wcs"]["skeleton"]["source"] = str(ROOT / "fixtures/wcs-skeleton")
    edit(data)
    path = tmp_path / "variant.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_recipe_without_fargo_is_drift(tmp_path: Path) -> None:
    recipe = (ROOT / "fixtures/recipes/macollectivite-preprod.json").read_text()
    lines = [line for line in recipe.splitlines() if "create-fargo" not in line]
    lines[-3] = lines[-3].rstrip(",")  # the passerelle step becomes the last one
    (tmp_path / "no-fargo.json").write_text("\n".join(lines))

    def edit(data: dict) -> None:
        data["instances"][0]["recipe"] = str(tmp_path / "no-fargo.json")

    plan = load_plan(_variant(tmp_path, edit))
    assert [(d.hostname, "no step" in d.problem) for d in plan.drift] == [
        ("portedoc-preprod-moncompte.macollectivite.fr", True)
    ]


def test_overrides_from_the_environment(tmp_path: Path) -> None:
    def edit(data: dict) -> None:
        data["paths"] = {"root": "/srv/sandbox"}
        data["services"] = {
            "combo": {"owner": "www-data", "database": "combo_prod", "expect": {"contains": ["Bienvenue"]}},
            "wcs": {"expect": {"redirect_to": "https://www.macollectivite.fr/"}},
        }
        data["wcs"]["database_template"] = "%s_wcs"

    plan = load_plan(_variant(tmp_path, edit))
    by_kind = {t.kind: t for t in plan.targets}
    assert by_kind["combo"].owner == "www-data"
    assert by_kind["combo"].database == "combo_prod"
    assert by_kind["combo"].tenant_dir.startswith("/srv/sandbox/var/lib/combo/tenants/")
    assert by_kind["combo"].expect.contains == ("Bienvenue",)
    assert by_kind["wcs"].expect.redirect_to == "https://www.macollectivite.fr/"
    assert by_kind["wcs"].database == "demarches_preprod_moncompte_macollectivite_fr_wcs"


def test_cook_rendering_injects_the_password_only_there() -> None:
    recipe = load_recipe(ROOT / "fixtures/recipes/macollectivite-preprod.json")
    rendered = json.loads(render_for_cook(recipe, "canary-Pa55"))
    assert json.dumps(rendered).count("canary-Pa55") == 1
    assert rendered["steps"][1] == {
        "create-superuser": {"email": "${admin_email}", "password": "canary-Pa55"}
    }
    assert rendered["variables"] == recipe.variables
    hobo_url = "https://hobo-${env}${collectivite}.${domain}/"
    assert rendered["steps"][0] == {"create-hobo": {"url": hobo_url, "title": "Hobo", "slug": "hobo"}}
    assert load_recipe(ROOT / "fixtures/recipes/macollectivite-preprod.json").steps[1].params == {
        "email": "admin-publik@macollectivite.fr"
    }
