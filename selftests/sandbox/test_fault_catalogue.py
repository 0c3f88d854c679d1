"""The sandbox fault catalogue: complete, well-formed, and targets resolve (no servers needed)."""

from __future__ import annotations

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
    ],
)
def test_bad_specs_say_what_is_valid(instances, spec, message):
    with pytest.raises(FaultError, match=message):
        parse_fault(spec, instances)


def test_a_fault_given_twice_is_refused(instances):
    with pytest.raises(FaultError, match="given twice"):
        parse_faults(["tls-expired", "tls-expired:wcs"], instances)
