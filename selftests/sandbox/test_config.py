"""Generated configuration of the sandbox: nginx, dnsmasq, environment file (no servers needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from publik_acceptance.config.environment import load_environment
from publik_sandbox import dnsmasq, envfile, frontend, pki
from publik_sandbox.config import Network, SandboxConfig, StatePaths
from publik_sandbox.faults import parse_faults
from publik_sandbox.recipes import write_recipes


@pytest.fixture
def setup(tmp_path: Path):
    """(config, state paths, instances) of a one-instance sandbox whose recipes are written under tmp_path."""
    config = SandboxConfig(state_dir=tmp_path / "state", env_file=None)
    paths = StatePaths(config.state_dir)
    instances = write_recipes(config, paths.recipes)
    return config, paths, instances


def test_recipes_are_the_preprod_recipe_in_the_sandbox_zone(setup):
    _config, _, instances = setup
    (instance,) = instances
    assert instance.name == "moncompte"
    assert instance.hostnames == [
        "hobo-preprod-moncompte.example.test", "connexion-preprod-moncompte.example.test",
        "preprod-moncompte.example.test", "agents-preprod-moncompte.example.test",
        "demarches-preprod-moncompte.example.test", "passerelle-preprod-moncompte.example.test",
        "portedoc-preprod-moncompte.example.test",
    ]
    assert SandboxConfig(instances=3).instance_names() == ["moncompte", "ville02", "ville03"]


def test_every_server_binds_only_sandbox_addresses(setup, tmp_path):
    config, _paths, instances = setup
    services = list(instances[0].services)
    certs = pki.build_pki(tmp_path / "pki", config.zone, instances[0].hostnames, [])
    net = Network()
    for index in (0, 1):
        text = frontend.render(index, tmp_path, services, certs, net, [])
        listens = set(re.findall(r"listen (\S+)", text))
        assert listens == {f"{net.frontends[index]}:443"}
        assert text.count("server_name ") == len(services) + 1
    assert all(address.startswith("127.0.0.") and address != "127.0.0.1"
               for _, address, _ in net.all_listeners())
    conf = dnsmasq.write_config(tmp_path / "dns", config.zone, net, [])
    assert "listen-address=127.0.0.10" in conf.read_text() and "local=/example.test/" in conf.read_text()


def test_dns_records_two_frontends_and_the_faults(setup):
    _, _, instances = setup
    net = Network()
    faults = parse_faults(["dns-missing:portal-agent", "dns-wrong-address:wcs"], instances)
    records = dnsmasq.records(instances[0].hostnames, net, faults)
    by_host: dict[str, set[str]] = {}
    for address, host in records:
        by_host.setdefault(host, set()).add(address)
    assert "agents-preprod-moncompte.example.test" not in by_host
    assert by_host["demarches-preprod-moncompte.example.test"] == {"127.0.0.11", "127.0.0.19"}
    assert by_host["hobo-preprod-moncompte.example.test"] == {"127.0.0.11", "127.0.0.12"}


def test_frontend_faults_change_only_their_hostname(setup, tmp_path):
    config, _, instances = setup
    faults = parse_faults(["http-502", "http-hang", "http-already-200"], instances)
    certs = pki.build_pki(tmp_path / "pki", config.zone, instances[0].hostnames, faults)
    text = frontend.render(0, tmp_path, list(instances[0].services), certs, Network(), faults)
    assert "proxy_pass http://127.0.0.13:8098;" in text and "proxy_pass http://127.0.0.13:8099;" in text
    assert "Site en construction" in text
    assert text.count("proxy_pass http://127.0.0.13:800") == 4


def test_environment_file_loads_with_the_suite_schema(setup):
    config, paths, instances = setup
    for path in (paths.known_hosts, paths.ca, paths.superuser_password):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n")
    (written,) = envfile.write(config, paths, instances)
    env = load_environment(written)
    assert env.platform == "sandbox" and env.paths_root == str(paths.root)
    assert str(env.dns.resolvers[0]) == "127.0.0.10"
    assert env.database.psql.endswith(f"-h {paths.pg_socket_dir} -p 5432")
    assert env.postdeploy.deadline == config.postdeploy_deadline
    assert envfile.remove_if_ours(written, paths.state) and not written.exists()
