"""Name derivation, checked against the rules of Publik's own code (publik-reference.md §3–4)."""

from __future__ import annotations

import hashlib

import pytest

from publik_acceptance.config.catalogue import SERVICE_KINDS
from publik_acceptance.config.naming import (
    django_schema_name,
    hostname,
    postgres_folded,
    wcs_database_name,
    wcs_instance_path,
    wcs_legacy_tenants_dir,
)

LONG_URL = "https://demarches-preprod-moncompte.communaute-de-communes-du-val-de-loire.example.test/"
LONG_FULL = "wcs_demarches_preprod_moncompte_communaute_de_communes_du_val_de_loire_example_test"


@pytest.mark.parametrize(
    ("host", "schema"),
    [
        ("hobo.monpublik.fr", "hobo_monpublik_fr"),
        ("connexion-preprod-moncompte.macollectivite.fr", "connexion_preprod_moncompte_macollectivite_fr"),
        ("preprod-moncompte.macollectivite.fr", "preprod_moncompte_macollectivite_fr"),
    ],
)
def test_django_schema_is_hostname_with_underscores(host: str, schema: str) -> None:
    assert django_schema_name(host) == schema


def test_long_django_schema_is_shortened_to_63_characters() -> None:
    host = "connexion-preprod-moncompte.communaute-de-communes-du-val-de-loire.example.test"
    schema = django_schema_name(host)
    assert schema == "connexion_preprod_moncompte_c_08a8_du_val_de_loire_example_test"
    assert len(schema) == 63


@pytest.mark.parametrize(
    ("url", "database"),
    [
        ("https://demarches.example.org/", "wcs_demarches_example_org"),
        ("https://demarches-preprod-moncompte.macollectivite.fr/", "wcs_demarches_preprod_moncompte_macollectivite_fr"),
        # A path becomes "+path" in the instance path, and "+" turns into "_" like "-" and ".".
        ("https://demarches-ville.example.test/sous-site/", "wcs_demarches_ville_example_test__sous_site"),
    ],
)
def test_wcs_database_name(url: str, database: str) -> None:
    assert wcs_database_name(url) == database


def test_wcs_database_name_over_63_characters_keeps_head_digest_and_tail() -> None:
    name = wcs_database_name(LONG_URL)
    digest = hashlib.md5(LONG_FULL.encode()).hexdigest()[:4]
    assert digest == "9206"
    assert name == f"{LONG_FULL[:29]}_{digest}_{LONG_FULL[-28:]}"
    assert name == "wcs_demarches_preprod_moncomp_9206_du_val_de_loire_example_test"
    assert len(name) == 63


def test_wcs_legacy_templates() -> None:
    assert wcs_database_name("https://demarches.example.org/", "%s") == "demarches_example_org"
    assert wcs_database_name("https://demarches.example.org/", "%(domain_database_name)s_wcs") == (
        "demarches_example_org_wcs"
    )
    # No template: the configured database's prefix joined to the domain part.
    assert wcs_database_name("https://demarches.example.org/", None, "wcs_prod") == "wcs_demarches_example_org"


@pytest.mark.parametrize(
    ("url", "template", "database"),
    [
        # w.c.s. runs `CREATE DATABASE <name>` unquoted: PostgreSQL folds the name to lower case.
        ("https://Demarches.Example.ORG/", "wcs_%s", "wcs_demarches_example_org"),
        ("https://demarches-Preprod.MaCollectivite.fr/", "wcs_%s", "wcs_demarches_preprod_macollectivite_fr"),
        ("https://demarches.example.org/", "WCS_%s", "wcs_demarches_example_org"),
        ("https://Demarches.example.org/", "%s", "demarches_example_org"),
    ],
)
def test_wcs_database_name_is_folded_to_lower_case_like_postgresql(url: str, template: str, database: str) -> None:
    assert wcs_database_name(url, template) == database


def test_long_mixed_case_wcs_name_digests_the_name_before_folding() -> None:
    """w.c.s. shortens (MD5 of the name as it built it, mixed case included), then PostgreSQL folds."""
    url = LONG_URL.replace("demarches-preprod", "Demarches-Preprod")
    full = LONG_FULL.replace("demarches_preprod", "Demarches_Preprod")
    digest = hashlib.md5(full.encode()).hexdigest()[:4]
    assert digest != "9206"  # not the digest of the lower-case name
    assert wcs_database_name(url) == f"{full[:29]}_{digest}_{full[-28:]}".lower()


def test_postgres_folds_only_ascii_letters() -> None:
    assert postgres_folded("Wcs_Demarches_EXAMPLE_org_2") == "wcs_demarches_example_org_2"
    assert postgres_folded("\u00c9") == "\u00c9"


def test_wcs_legacy_tenants_dir_is_the_application_directory() -> None:
    assert wcs_legacy_tenants_dir("/var/lib/wcs/tenants") == "/var/lib/wcs"
    assert wcs_legacy_tenants_dir("/srv/root/var/lib/wcs/tenants/") == "/srv/root/var/lib/wcs"


def test_wcs_instance_path_drops_one_trailing_slash_and_keeps_subpaths() -> None:
    assert wcs_instance_path("https://demarches.example.org/") == "demarches.example.org"
    assert wcs_instance_path("https://demarches.example.org/a/b/") == "demarches.example.org++a+b"


def test_hostname_is_lower_case_without_port() -> None:
    assert hostname("https://Demarches.Example.ORG:8443/x") == "demarches.example.org"


@pytest.mark.parametrize(
    ("kind", "tenants_dir", "owner"),
    [
        ("hobo", "/var/lib/hobo/tenants", "hobo"),
        ("authentic", "/var/lib/authentic2-multitenant/tenants", "authentic-multitenant"),
        ("combo", "/var/lib/combo/tenants", "combo"),
        ("passerelle", "/var/lib/passerelle/tenants", "passerelle"),
        ("fargo", "/var/lib/fargo/tenants", "fargo"),
        ("chrono", "/var/lib/chrono/tenants", "chrono"),
        ("bijoe", "/var/lib/bijoe/tenants", "bijoe"),
        ("wcs", "/var/lib/wcs/tenants", "wcs"),
    ],
)
def test_tenant_paths_and_owners(kind: str, tenants_dir: str, owner: str) -> None:
    assert SERVICE_KINDS[kind].tenants_dir == tenants_dir
    assert SERVICE_KINDS[kind].owner == owner
