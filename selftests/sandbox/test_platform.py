"""Each sandbox component, checked with an independent client; then a whole cook over SSH.

Tests run in file order: the ones before `test_cook_*` see a platform waiting for its cook.
"""

from __future__ import annotations

import dataclasses
import io
import json
import pwd
import socket
import ssl
import stat
import subprocess
import zipfile
from urllib.parse import urlsplit

import dns.resolver
import paramiko
import psycopg
import pytest

from publik_acceptance.config.environment import load_environment
from publik_acceptance.config.naming import django_schema_name, wcs_database_name
from selftests import clients

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module", autouse=True)
def healthy(rig):
    """The sandbox, up without faults, for every test of this module."""
    rig.up()
    return rig


# -- environment file ------------------------------------------------------------------------------
def test_environment_file_loads_with_the_suite_schema(rig):
    env = load_environment(rig.sandbox.env_file)
    assert env.platform == "sandbox"
    assert [i.name for i in env.instances] == ["moncompte"]
    assert len(env.instances[0].expect_hostnames) == 7
    assert env.dns.expect_addresses == rig.frontends
    assert str(env.dns.resolvers[0]) == "127.0.0.10"
    assert {s.host for s in env.servers.values()} == {"127.0.0.15"}
    assert env.tls.ca_bundle == rig.ca
    assert env.paths_root == str(rig.paths.root)
    assert env.instances[0].superuser_password.resolve()
    assert "{recipe}" in env.cook.command and str(rig.paths.hobo_manage) in env.cook.command


def test_no_secret_in_the_environment_file(rig):
    text = rig.sandbox.env_file.read_text()
    for secret in (rig.wcs_password(), rig.paths.superuser_password.read_text().strip()):
        assert secret not in text
    assert "PRIVATE KEY" not in text


# -- DNS -------------------------------------------------------------------------------------------
def test_every_hostname_resolves_to_both_frontends(rig):
    for service in rig.services():
        assert clients.resolve(service.host) == set(rig.frontends), service.host


def test_unknown_name_in_the_zone_is_nxdomain(rig):
    with pytest.raises(dns.resolver.NXDOMAIN):
        clients.resolve("inconnu.example.test")


# -- TLS + HTTP before cook ------------------------------------------------------------------------
@pytest.mark.parametrize("frontend", [0, 1], ids=["frontend-1", "frontend-2"])
def test_every_hostname_has_its_certificate_and_answers_application_404(rig, frontend):
    for service in rig.services():
        response = rig.get(service, frontend=frontend)
        assert response.status == 404, service.host
        assert "<h1>Not Found</h1>" in response.body
        assert "<center>nginx</center>" not in response.body
        sans = {value for kind, value in response.peercert["subjectAltName"] if kind == "DNS"}
        assert sans == {service.host}


def test_unknown_name_gets_the_frontend_404(rig):
    response = clients.https_get(rig.frontends[0], "inconnu.example.test", ca=rig.ca, verify=False)
    assert response.status == 404
    assert "<center>nginx</center>" in response.body  # nginx's own page, as a real default server answers
    assert "<h1>Not Found</h1>" not in response.body


def test_certificates_are_not_trusted_without_the_sandbox_ca(rig):
    host = rig.service("hobo").host
    context = ssl.create_default_context(cafile=None)
    raw = socket.create_connection((rig.frontends[0], 443), timeout=3)
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            context.wrap_socket(raw, server_hostname=host)
    finally:
        raw.close()


# -- PostgreSQL ------------------------------------------------------------------------------------
def test_django_databases_exist(rig):
    assert {"hobo", "combo", "authentic2_multitenant", "passerelle", "fargo"} <= clients.databases(
        rig.paths.pg_socket_dir)


def test_wcs_role_logs_in_over_tcp_and_has_createdb(rig):
    with clients.pg_tcp("wcs", rig.wcs_password()) as conn:
        (createdb,) = conn.execute("SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user").fetchone()
    assert createdb is True


def test_wrong_password_is_refused_over_tcp(rig):
    with pytest.raises(psycopg.OperationalError):
        clients.pg_tcp("wcs", "not-the-password")


def test_postgres_listens_only_on_its_address(rig):
    with pytest.raises(psycopg.OperationalError):
        clients.pg_tcp("wcs", rig.wcs_password(), host="127.0.0.1")


# -- SSH and the hosts -----------------------------------------------------------------------------
def test_ssh_host_key_is_verified_and_commands_run(rig):
    client = rig.ssh()
    try:
        status, out, _ = clients.ssh_run(client, "id -un")
    finally:
        client.close()
    assert (status, out.strip()) == (0, "root")


def test_ssh_refuses_an_unknown_client_key(rig, tmp_path):
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True, timeout=30)
    with pytest.raises(paramiko.AuthenticationException):
        clients.ssh_client(rig.paths.known_hosts, other)


def test_service_users_and_tenants_dirs(rig):
    for service in rig.services():
        tenants = rig.tenant_dir(service).parent
        owner = pwd.getpwuid(tenants.stat().st_uid).pw_name
        assert owner == {"authentic": "authentic-multitenant"}.get(service.kind, service.kind)
        assert pwd.getpwnam(owner).pw_shell == "/usr/sbin/nologin"


def test_skeleton_is_a_private_zip_with_the_createdb_params(rig):
    skeleton = rig.paths.skeletons / "modele.zip"
    info = skeleton.stat()
    assert stat.S_IMODE(info.st_mode) == 0o640
    assert pwd.getpwuid(info.st_uid).pw_name == "wcs"
    with zipfile.ZipFile(io.BytesIO(skeleton.read_bytes())) as archive:
        assert set(archive.namelist()) == {"config.json", "site-options.cfg"}
        config = json.loads(archive.read("config.json"))
    params = config["postgresql"]["createdb-connection-params"]
    assert (params["host"], params["user"], params["password"]) == ("127.0.0.14", "wcs", rig.wcs_password())


def test_standin_help_and_sudo_check_run_as_preflight_would(rig):
    client = rig.ssh()
    try:
        help_status, help_out, _ = clients.ssh_run(client, f"sudo -u hobo {rig.paths.hobo_manage} help cook")
        check_status, check_out, _ = clients.ssh_run(client, f"sudo -n -l -u hobo {rig.paths.hobo_manage}")
    finally:
        client.close()
    assert help_status == 0 and "usage: hobo-manage cook" in help_out
    assert check_status == 0 and str(rig.paths.hobo_manage) in check_out
    assert rig.sandbox.cook_invocations() == []


def test_standin_rejects_unknown_action_and_undefined_variable(rig, tmp_path):
    bad_action = rig.paths.upload / "bad-action.json"
    bad_action.write_text(json.dumps({"steps": [{"create-hobo": {"url": "https://h.example.test/"}},
                                                {"create-everything": {}}]}))
    bad_variable = rig.paths.upload / "bad-variable.json"
    bad_variable.write_text(json.dumps({"variables": {"a": "b"},
                                        "steps": [{"create-hobo": {"url": "https://${nope}.example.test/"}}]}))
    for path, message in ((bad_action, "unknown action 'create-everything'"), (bad_variable, "${nope}")):
        path.chmod(0o644)
        status, _, err = rig.cook(path)
        assert status == 1 and message in err
    assert not any(rig.paths.agent_queue.iterdir())


def test_standin_loads_variables_from_a_file_relative_to_the_recipe(rig):
    (rig.paths.upload / "vars.json").write_text(json.dumps({"who": "from-file"}))
    recipe = rig.paths.upload / "with-vars.json"
    recipe.write_text(json.dumps({"load-variables-from": "vars.json",
                                  "steps": [{"create-hobo": {"url": "https://hobo-${who}.example.test/"}}]}))
    for path in rig.paths.upload.iterdir():
        path.chmod(0o644)
    status, out, _ = rig.cook(recipe)
    assert status == 0 and "https://hobo-from-file.example.test/" in out
    # a hostname the zone does not know: deployed on disk, but not reachable (no DNS, no vhost)
    assert clients.wait_for(lambda: (rig.paths.root / "var/lib/hobo/tenants/hobo-from-file.example.test").is_dir(), 5)


# -- the cook, as the suite runs it ----------------------------------------------------------------
def test_cook_over_ssh_deploys_every_tenant_asynchronously(rig):
    rig.up()  # a fresh platform: no tenant, empty invocation log
    services = rig.services()
    status, out, err = rig.cook()
    assert status == 0, err
    assert "create-wcs" in out
    assert not all(rig.deployed(s) for s in services), "cook must return before the agent deploys"
    assert rig.wait_deployed(services, timeout=10)


def test_cook_invocation_is_logged_once_as_hobo_without_secrets(rig):
    invocations = rig.sandbox.cook_invocations()
    assert len(invocations) == 1
    entry = invocations[0]
    assert entry["user"] == "hobo" and entry["argv"][1] == "cook"
    assert str(rig.sandbox.instances()[0].recipe) in entry["argv"]
    log = rig.paths.invocations.read_text()
    assert rig.paths.superuser_password.read_text().strip() not in log
    assert rig.sandbox.status()["cook_invocations"] == invocations


def test_tenants_have_owners_and_hobo_json(rig):
    for service in rig.services():
        tenant = rig.tenant_dir(service)
        assert pwd.getpwuid(tenant.stat().st_uid).pw_name == {"authentic": "authentic-multitenant"}.get(
            service.kind, service.kind)
        hobo = json.loads((tenant / "hobo.json").read_text())
        mine = [s for s in hobo["services"] if s.get("this")]
        assert [s["base_url"] for s in mine] == [service.url]
        assert {s["service-id"] for s in hobo["services"]} >= {"hobo", "authentic", "combo", "wcs"}


def test_django_schemas_exist(rig):
    databases = {"hobo": "hobo", "authentic": "authentic2_multitenant", "combo": "combo",
                 "passerelle": "passerelle", "fargo": "fargo"}
    for service in rig.services():
        if service.kind in databases:
            assert django_schema_name(service.host) in clients.schemas(rig.paths.pg_socket_dir,
                                                                       databases[service.kind])


def test_wcs_database_with_wcs_meta(rig):
    wcs = rig.service("wcs")
    name = wcs_database_name(wcs.url, "wcs_%s")
    assert name == "wcs_demarches_preprod_moncompte_example_test"
    with clients.pg_socket(rig.paths.pg_socket_dir, name) as conn:
        assert conn.execute("SELECT to_regclass('public.wcs_meta')").fetchone()[0] == "wcs_meta"


@pytest.mark.parametrize("frontend", [0, 1], ids=["frontend-1", "frontend-2"])
def test_pages_and_redirects_after_cook(rig, frontend):
    get = lambda name, path="/": rig.get(rig.service(name), path, frontend=frontend)  # noqa: E731
    for portal in ("portal-user", "portal-agent"):
        page = get(portal)
        assert page.status == 200
        assert "Votre installation de Combo fonctionne" in page.body
        assert "Le site est actuellement vide" in page.body
    authentic = rig.service("authentic")
    assert (get("authentic").status, get("authentic").header("location")) == (302, "/login/?next=/")
    login = get("authentic", "/login/")
    assert login.status == 200 and "<title>Connexion</title>" in login.body
    assert 'name="username"' in login.body and 'type="password"' in login.body
    for name in ("hobo", "passerelle", "fargo"):
        root = get(name)
        assert (root.status, root.header("location")) == (302, "/login/?next=/")
        mellon = get(name, "/login/")  # django-mellon's login view, then the IdP (test_saml.py follows it all)
        assert (mellon.status, mellon.header("location")) == (302, "/accounts/mellon/login/?next=/")
        sso = get(name, "/accounts/mellon/login/?next=/")
        location = urlsplit(sso.header("location"))
        assert sso.status == 302
        assert (location.hostname, location.path) == (authentic.host, "/idp/saml2/sso")
        assert location.query.startswith("SAMLRequest=")
    back = get("authentic", "/idp/saml2/sso?SAMLRequest=abc")  # not a SAML message: authentic's 400
    assert back.status == 400 and "invalid message" in back.body
    wcs = get("wcs")
    assert (wcs.status, wcs.header("location")) == (302, rig.service("portal-user").url)


def test_recook_is_get_or_create(rig):
    before = {s.host: rig.tenant_dir(s).stat().st_ino for s in rig.services()}
    status, out, _ = rig.cook()
    assert status == 0 and "Updating" in out
    assert clients.wait_for(
        lambda: sum(e["event"] == "updated" for e in rig.sandbox.agent_events()) >= len(before), 5)
    assert {s.host: rig.tenant_dir(s).stat().st_ino for s in rig.services()} == before
    assert not any(e["event"] == "failed" for e in rig.sandbox.agent_events())
    assert len(rig.sandbox.cook_invocations()) == 2


def test_status_reports_every_component_running(rig):
    status = rig.sandbox.status()
    assert status["up"] is True
    assert {c["name"] for c in status["components"]} == {
        "dns", "frontend-1", "frontend-2", "backends", "postgres", "sshd", "agent"}
    assert all(c["state"] == "running" for c in status["components"])


def test_two_instances(rig):
    single = rig.sandbox.config
    rig.sandbox.config = dataclasses.replace(single, instances=2)
    try:
        rig.up()
        names = [i.name for i in rig.sandbox.instances()]
        assert names == ["moncompte", "ville02"]
        other = rig.sandbox.instances()[1]
        assert all(clients.resolve(s.host) == set(rig.frontends) for s in other.services)
        assert len(load_environment(rig.sandbox.env_file).instances) == 2
    finally:
        rig.sandbox.config = single
