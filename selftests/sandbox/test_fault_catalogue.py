"""The sandbox fault catalogue: complete, well-formed, and targets resolve (no servers needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from publik_sandbox.config import SandboxConfig
from publik_sandbox.faults import (
    CATALOGUE,
    COOK,
    POSTDEPLOY,
    PREFLIGHT,
    FaultError,
    catalogue_lines,
    parse_fault,
    parse_faults,
)
from publik_sandbox.recipes import write_recipes


@pytest.fixture(scope="module")
def instances(tmp_path_factory):
    """The instances of a two-instance sandbox (recipes generated, not written), to aim faults at."""
    config = SandboxConfig(state_dir=tmp_path_factory.mktemp("state"), instances=2)
    return write_recipes(config, config.state_dir / "recipes", write=False)


def test_catalogue_covers_every_phase_with_at_least_twenty_faults():
    assert len(CATALOGUE) >= 20
    assert {f.phase for f in CATALOGUE.values()} == {PREFLIGHT, COOK, POSTDEPLOY}
    layers = {f.layer for f in CATALOGUE.values()}
    assert {"dns", "tls", "frontend", "host", "postgres", "ssh", "cook", "agent", "backend", "tenants"} <= layers


def test_each_line_starts_with_the_fault_name():
    lines = catalogue_lines()
    assert [line.split()[0] for line in lines] == list(CATALOGUE)
    assert all(len(line.split()) > 3 for line in lines)


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_default_target_resolves(instances, name):
    active = parse_fault(name, instances)
    assert active.instance == "moncompte"
    if CATALOGUE[name].service_target:
        assert active.hostnames, name
        assert all(h.endswith(".example.test") for h in active.hostnames)


def test_targets_by_kind_template_hostname_and_instance(instances):
    assert parse_fault("tls-expired:portal-agent", instances).hostnames == ["agents-preprod-moncompte.example.test"]
    assert parse_fault("tls-expired:combo", instances).hostnames == ["preprod-moncompte.example.test"]
    assert parse_fault("dns-missing:wcs@ville02", instances).hostnames == ["demarches-preprod-ville02.example.test"]
    host = "portedoc-preprod-moncompte.example.test"
    assert parse_fault(f"http-502:{host}", instances).hostnames == [host]
    assert len(parse_fault("tenants-all-deployed", instances).hostnames) == 7


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope", "unknown fault"),
        ("tls-expired:nowhere", "no service 'nowhere'"),
        ("tls-expired:wcs@nowhere", "no instance"),
        ("skeleton-missing:combo", "'wcs' server only"),
        ("db-missing:wcs", "no shared database"),
        ("schema-name-differs:wcs", "w.c.s. has no schema"),
        ("wcs-old-location:combo", "only w.c.s. has an old tenant location"),
        ("wcs-old-location-leftover:hobo", "only w.c.s. has an old tenant location"),
        ("saml-idp-metadata-race:hobo", "only w.c.s. fetches the IdP metadata at deploy"),
        ("saml-superuser-password-wrong:wcs", "the superuser's password lives in authentic"),
        ("saml-sp-unknown:authentic", "authentic is the IdP, not a service provider"),
        ("saml-sp-metadata-wrong-host:authentic", "authentic is the IdP, not a service provider"),
    ],
)
def test_bad_specs_say_what_is_valid(instances, spec, message):
    with pytest.raises(FaultError, match=message):
        parse_fault(spec, instances)


def test_a_fault_given_twice_is_refused(instances):
    with pytest.raises(FaultError, match="given twice"):
        parse_faults(["tls-expired", "tls-expired:wcs"], instances)


def _readme_fault_rows() -> dict[str, list[str]]:
    """The rows of README's "Fault catalogue" table, by fault name: its cells."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    _, found, section = readme.partition("\n### Fault catalogue\n")
    assert found, 'README.md has no "### Fault catalogue" section'
    section = section.split("\n#", 1)[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in section.splitlines() if line.startswith("|")]
    return {cells[0]: cells for cells in rows[2:]}  # after the header and its |---| line


def test_the_readme_fault_table_has_a_row_for_each_fault_and_no_other():
    rows = _readme_fault_rows()
    missing = [name for name in CATALOGUE if name not in rows]
    unknown = [name for name in rows if name not in CATALOGUE]
    assert not missing and not unknown, (
        f'README.md "Fault catalogue" table: rows missing for {", ".join(missing) or "none"} '
        f'(publik_sandbox/faults.py CATALOGUE has them); rows naming no fault of the catalogue: '
        f'{", ".join(unknown) or "none"}')


def test_the_readme_fault_table_says_each_fault_s_phase_and_default_target():
    rows = _readme_fault_rows()
    wrong = [f"{name}: README says {rows[name][1]} / {rows[name][2]}, faults.py {fault.phase} / {fault.default_target}"
             for name, fault in CATALOGUE.items()
             if name in rows and rows[name][1:3] != [fault.phase, fault.default_target]]
    assert not wrong, 'README.md "Fault catalogue" table disagrees with publik_sandbox/faults.py: ' + "; ".join(wrong)
