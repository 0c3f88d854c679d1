"""Every fault of the catalogue really manifests, seen through an independent client.

One test per fault (ids = fault names): the sandbox is brought up with that fault alone, then the
check looks at the symptom a deployer would meet — NXDOMAIN, a failed handshake, a 502, a missing
tenant, a 503… A fault added to the catalogue without a check here fails.
"""

from __future__ import annotations

import configparser
import io
import json
import os
import pwd
import ssl
import stat
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import dns.resolver
import paramiko
import psycopg
import pytest

from publik_acceptance.config.catalogue import SERVICE_KINDS, WCS_DEPLOYING_HOSTNAME
from publik_acceptance.config.naming import django_schema_name, wcs_database_name
from publik_sandbox import CATALOGUE, SandboxError, saml
from selftests import clients, saml_flow

pytestmark = pytest.mark.sandbox

CHECKS: dict[str, Callable] = {}


def check(name: str) -> Callable[[Callable], Callable]:
    def register(func: Callable) -> Callable:
        CHECKS[name] = func
        return func

    return register


@pytest.mark.parametrize("name", list(CATALOGUE), ids=list(CATALOGUE))
def test_fault_manifests(rig, name):
    assert name in CHECKS, f"fault {name} has no self-test"
    status = rig.up(name)
    assert [f["name"] for f in status["faults"]] == [name]
    assert all(c["state"] == "running" for c in status["components"])
    CHECKS[name](rig)


# -- helpers ---------------------------------------------------------------------------------------
def _verify_error(rig, name: str, frontend: int) -> ssl.SSLError | None:
    return clients.handshake_error(rig.frontends[frontend], rig.service(name).host, rig.ca)


def _cook_and_wait(rig, expect_missing: tuple[str, ...] = ()) -> float:
    """Cook over SSH; wait for every service but `expect_missing`; return when cook started."""
    started = time.monotonic()
    status, _, err = rig.cook()
    assert status == 0, err
    others = [s for s in rig.services() if not any(rig.service(m) == s for m in expect_missing)]
    assert rig.wait_deployed(others, timeout=10), "the other services were not deployed"
    return started


def _sftp_read(rig, path: Path) -> tuple[os.stat_result | paramiko.SFTPAttributes, bytes]:
    client = rig.ssh()
    try:
        sftp = client.open_sftp()
        attributes = sftp.stat(str(path))
        with sftp.open(str(path), "rb") as fh:
            return attributes, fh.read()
    finally:
        client.close()


# -- DNS -------------------------------------------------------------------------------------------
@check("dns-missing")
def _(rig):
    with pytest.raises(dns.resolver.NXDOMAIN):
        clients.resolve(rig.service("portal-agent").host)
    assert clients.resolve(rig.service("portal-user").host) == set(rig.frontends)


@check("dns-wrong-address")
def _(rig):
    addresses = clients.resolve(rig.service("wcs").host)
    assert addresses == {rig.frontends[0], "127.0.0.19"}
    with pytest.raises(ConnectionRefusedError):
        clients.https_get("127.0.0.19", rig.service("wcs").host, ca=rig.ca, timeout=2)


# -- TLS -------------------------------------------------------------------------------------------
@check("tls-expired")
def _(rig):
    for frontend in (0, 1):
        error = _verify_error(rig, "authentic", frontend)
        assert isinstance(error, ssl.SSLCertVerificationError)
        assert "expired" in error.verify_message
    assert _verify_error(rig, "hobo", 0) is None


@check("tls-wrong-name")
def _(rig):
    for frontend in (0, 1):
        error = _verify_error(rig, "passerelle", frontend)
        assert isinstance(error, ssl.SSLCertVerificationError)
        assert "Hostname mismatch" in error.verify_message


@check("tls-untrusted")
def _(rig):
    error = _verify_error(rig, "fargo", 0)
    assert isinstance(error, ssl.SSLCertVerificationError)
    assert "unable to get local issuer certificate" in error.verify_message


@check("tls-expiring-soon")
def _(rig):
    host = rig.service("hobo").host
    for frontend in (0, 1):
        assert _verify_error(rig, "hobo", frontend) is None
        cert = clients.peer_certificate(rig.frontends[frontend], host, rig.ca)
        days_left = (ssl.cert_time_to_seconds(cert["notAfter"]) - time.time()) / 86400
        assert 0 < days_left < 21


@check("tls-one-frontend")
def _(rig):
    assert _verify_error(rig, "portal-user", 0) is None
    error = _verify_error(rig, "portal-user", 1)
    assert isinstance(error, ssl.SSLCertVerificationError) and "expired" in error.verify_message


# -- HTTP ------------------------------------------------------------------------------------------
@check("http-already-200")
def _(rig):
    for frontend in (0, 1):
        page = rig.get(rig.service("portal-agent"), frontend=frontend)
        assert page.status == 200 and "Site en construction" in page.body
    assert rig.get(rig.service("portal-user")).status == 404


@check("http-502")
def _(rig):
    for frontend in (0, 1):
        assert rig.get(rig.service("passerelle"), frontend=frontend).status == 502
    assert rig.get(rig.service("fargo")).status == 404


@check("http-hang")
def _(rig):
    assert _verify_error(rig, "fargo", 0) is None  # TLS is fine: the backend hangs
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        rig.get(rig.service("fargo"), timeout=1.0)
    assert time.monotonic() - started >= 0.9


@check("http-no-vhost")
def _(rig):
    authentic = rig.service("authentic")
    for frontend in (0, 1):
        assert _verify_error(rig, "authentic", frontend) is None  # only the vhost is missing, not the certificate
        page = rig.get(authentic, frontend=frontend)
        assert page.status == 404 and "<center>nginx</center>" in page.body, page.body
    hobo = rig.get(rig.service("hobo"))
    assert hobo.status == 404 and "<center>nginx</center>" not in hobo.body  # the others reach the services


# -- hosts -----------------------------------------------------------------------------------------
@check("skeleton-missing")
def _(rig):
    client = rig.ssh()
    try:
        status, _, _ = clients.ssh_run(client, f"test -e {rig.paths.skeletons}/modele.zip")
    finally:
        client.close()
    assert status == 1


@check("skeleton-corrupt")
def _(rig):
    _, data = _sftp_read(rig, rig.paths.skeletons / "modele.zip")
    assert data and not zipfile.is_zipfile(io.BytesIO(data))


@check("skeleton-world-readable")
def _(rig):
    attributes, data = _sftp_read(rig, rig.paths.skeletons / "modele.zip")
    assert attributes.st_mode & stat.S_IROTH
    assert zipfile.is_zipfile(io.BytesIO(data))


@check("hobo-manage-missing")
def _(rig):
    client = rig.ssh()
    try:
        check_status, _, _ = clients.ssh_run(client, f"sudo -n -l -u hobo {rig.paths.hobo_manage}")
        help_status, _, _ = clients.ssh_run(client, f"sudo -u hobo {rig.paths.hobo_manage} help cook")
    finally:
        client.close()
    assert check_status != 0 and help_status != 0


@check("db-no-createdb")
def _(rig):
    with clients.pg_tcp("wcs", rig.wcs_password()) as conn:
        assert conn.execute("SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user").fetchone()[0] is False
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE DATABASE selftest_probe")
    # and so, at cook, w.c.s. deploys its tenant without a database
    _cook_and_wait(rig)
    wcs = rig.service("wcs")
    assert wcs_database_name(wcs.url) not in clients.databases(rig.paths.pg_socket_dir)
    page = rig.get(wcs)
    assert (page.status, page.body) == (503, "Error connecting to database")


@check("db-missing")
def _(rig):
    databases = clients.databases(rig.paths.pg_socket_dir)
    assert "passerelle" not in databases
    assert {"hobo", "combo", "authentic2_multitenant", "fargo"} <= databases


@check("ssh-host-key-unknown")
def _(rig):
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        rig.ssh()


@check("ssh-host-key-changed")
def _(rig):
    with pytest.raises(paramiko.BadHostKeyException):
        rig.ssh()


# -- cook ------------------------------------------------------------------------------------------
@check("cook-fails")
def _(rig):
    status, out, err = rig.cook()
    assert status == 1 and "CommandError" in err and "create-hobo" in out
    time.sleep(1.0)  # longer than any deploy delay of the test configuration
    assert not any(rig.tenant_dir(s).exists() for s in rig.services())


@check("cook-times-out-waiting")
def _(rig):
    started = time.monotonic()
    status, _, err = rig.cook(wait=1)
    wcs = rig.service("wcs")
    assert status == 1 and f"timeout waiting for {wcs.url}" in err, err
    assert 1.0 <= time.monotonic() - started < 5, "cook must wait its --timeout, then give up"
    assert not rig.deployed(wcs)
    assert rig.wait_deployed(rig.services(), timeout=10), "the deployment must go on after cook gave up"


@check("cook-ok-service-failed")
def _(rig):
    status, out, err = rig.cook(wait=5)
    passerelle = rig.service("passerelle")
    assert status == 0 and "every service is deployed" in out, err
    assert rig.wait_deployed([s for s in rig.services() if s != passerelle], timeout=1)
    time.sleep(1.0)
    assert not rig.tenant_dir(passerelle).exists()


def _processes_running(path: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if path in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@check("cook-hangs")
def _(rig):
    client = rig.ssh()
    try:
        _, stdout, _ = client.exec_command(f"sudo -u hobo {rig.paths.hobo_manage} cook "
                                           f"{rig.sandbox.instances()[0].recipe} -v 2")
        time.sleep(2.0)
        assert not stdout.channel.exit_status_ready()
    finally:
        client.close()
    assert _processes_running(str(rig.paths.hobo_manage))
    rig.sandbox.down()  # down must end the hung cook too
    assert clients.wait_for(lambda: not _processes_running(str(rig.paths.hobo_manage)), 3)


# -- after cook ------------------------------------------------------------------------------------
@check("deploy-never")
def _(rig):
    _cook_and_wait(rig, expect_missing=("passerelle",))
    time.sleep(1.0)
    assert not rig.tenant_dir(rig.service("passerelle")).exists()
    assert rig.get(rig.service("passerelle")).status == 404


@check("deploy-late")
def _(rig):
    started = _cook_and_wait(rig, expect_missing=("fargo",))
    fargo = rig.service("fargo")
    assert not rig.deployed(fargo)
    assert rig.wait_deployed([fargo], timeout=6)
    elapsed = time.monotonic() - started
    assert 1.0 < elapsed < rig.sandbox.config.postdeploy_deadline, elapsed


@check("deploy-beyond-deadline")
def _(rig):
    started = _cook_and_wait(rig, expect_missing=("portal-agent",))
    time.sleep(max(0.0, started + rig.sandbox.config.postdeploy_deadline + 0.2 - time.monotonic()))
    assert not rig.tenant_dir(rig.service("portal-agent")).exists()


@check("deploy-wrong-owner")
def _(rig):
    _cook_and_wait(rig)
    assert pwd.getpwuid(rig.tenant_dir(rig.service("portal-user")).stat().st_uid).pw_name == "root"
    assert pwd.getpwuid(rig.tenant_dir(rig.service("portal-agent")).stat().st_uid).pw_name == "combo"


@check("deploy-schema-missing")
def _(rig):
    _cook_and_wait(rig)
    authentic, hobo = rig.service("authentic"), rig.service("hobo")
    assert django_schema_name(authentic.host) not in clients.schemas(rig.paths.pg_socket_dir,
                                                                     "authentic2_multitenant")
    assert django_schema_name(hobo.host) in clients.schemas(rig.paths.pg_socket_dir, "hobo")


@check("wcs-database-missing")
def _(rig):
    _cook_and_wait(rig)
    wcs = rig.service("wcs")
    assert wcs_database_name(wcs.url) not in clients.databases(rig.paths.pg_socket_dir)
    for frontend in (0, 1):
        page = rig.get(wcs, frontend=frontend)
        assert (page.status, page.body) == (503, "Error connecting to database")


@check("wrong-redirect")
def _(rig):
    _cook_and_wait(rig)
    page = rig.get(rig.service("wcs"))
    assert page.status == 302
    assert page.header("location") == rig.service("portal-agent").url != rig.service("portal-user").url


@check("portal-error")
def _(rig):
    _cook_and_wait(rig)
    assert rig.get(rig.service("portal-user")).status == 500
    assert rig.get(rig.service("portal-agent")).status == 200


@check("schema-name-differs")
def _(rig):
    _cook_and_wait(rig)
    authentic = rig.service("authentic")
    planned = django_schema_name(authentic.host)
    mapped = f"old_{planned}"[:63]
    found = clients.schemas(rig.paths.pg_socket_dir, "authentic2_multitenant")
    assert planned not in found and mapped in found
    manage = rig.paths.bin / SERVICE_KINDS["authentic"].manage
    client = rig.ssh()
    try:
        status, out, err = clients.ssh_run(client, f"sudo -n -u authentic-multitenant {manage} list_tenants", 30)
    finally:
        client.close()
    assert status == 0, err
    assert f"{mapped} {authentic.host}" in out.splitlines(), out


@check("wcs-old-location")
def _(rig):
    _cook_and_wait(rig, expect_missing=("wcs",))
    wcs = rig.service("wcs")
    old = rig.tenant_dir(wcs).parent.parent / wcs.host
    assert clients.wait_for(lambda: (old / "config.pck").exists(), 10), f"no w.c.s. tenant at {old}"
    assert not rig.tenant_dir(wcs).exists()
    assert wcs_database_name(wcs.url) in clients.databases(rig.paths.pg_socket_dir)
    assert clients.wait_for(lambda: rig.get(wcs).status == 302, 10), "w.c.s. does not serve its old-location tenant"


@check("theme-not-applied")
def _(rig):
    _cook_and_wait(rig)
    themes = {s.host: json.loads((rig.tenant_dir(s) / "hobo.json").read_text())["variables"].get("theme")
              for s in rig.services()}
    assert themes.pop(rig.service("portal-agent").host) == "publik-legacy"
    assert set(themes.values()) == {"publik"}, themes


@check("wcs-site-options-lost")
def _(rig):
    _cook_and_wait(rig)
    options = configparser.ConfigParser(interpolation=None)
    options.read_string((rig.tenant_dir(rig.service("wcs")) / "site-options.cfg").read_text())
    assert not options.has_option("options", "default-to-global-view")
    assert WCS_DEPLOYING_HOSTNAME not in options.get("options", "allowed_hostname", fallback="")


# -- pre-existing tenants --------------------------------------------------------------------------
@check("tenants-all-deployed")
def _(rig):
    assert all(rig.deployed(s) for s in rig.services())
    assert rig.sandbox.cook_invocations() == []
    page = rig.get(rig.service("portal-user"))
    assert page.status == 200 and "Combo fonctionne" in page.body
    assert wcs_database_name(rig.service("wcs").url) in clients.databases(rig.paths.pg_socket_dir)


@check("tenants-some-deployed")
def _(rig):
    deployed = {s.kind for s in rig.services() if rig.deployed(s)}
    assert deployed == {"hobo", "authentic"}
    assert rig.get(rig.service("portal-user")).status == 404


@check("wcs-old-location-leftover")
def _(rig):
    wcs = rig.service("wcs")
    assert (rig.tenant_dir(wcs).parent.parent / wcs.host / "config.pck").exists()
    assert not rig.tenant_dir(wcs).exists()
    assert rig.sandbox.cook_invocations() == []
    assert rig.get(wcs).status != 404  # w.c.s. serves it: the name is taken before any cook


# -- SAML federation (the healthy flow: test_saml.py) --------------------------------------------------
@check("saml-sp-unknown")
def _(rig):
    _cook_and_wait(rig)
    passerelle = rig.service("passerelle")
    agent, pages = saml_flow.to_sso(rig, passerelle)
    page = agent.get(pages[-1].location or "")
    assert page.host == rig.service("authentic").host and saml_flow.password_form(page) is None
    assert "Nous n'avons pas pu charger le fournisseur de service" in page.body
    assert saml.sp_entity_id(passerelle.url, "passerelle") in page.body
    hobo = saml_flow.to_sso(rig, rig.service("hobo"))  # the others are known
    assert saml_flow.password_form(hobo[0].get(hobo[1][-1].location or "")) is not None


@check("saml-idp-metadata-race")
def _(rig):
    _cook_and_wait(rig)
    wcs = rig.service("wcs")
    assert not (rig.tenant_dir(wcs) / "saml" / "idp-metadata.xml").exists()
    failed = [e for e in rig.sandbox.agent_events() if e["event"] == "saml-idp-metadata-failed"]
    assert [e["host"] for e in failed] == [wcs.host] and failed[0]["message"] == "failed to get metadata URL"
    assert "failed to get metadata URL" in (rig.paths.log / "agent.log").read_text()
    page = saml_flow.browser(rig).get(f"https://{wcs.host}/login/")
    assert page.host == wcs.host and page.status == 200 and "SSO support is not yet configured" in page.body
    assert rig.get(wcs).status == 302, "its / still redirects to the portal: only the login is broken"
    assert saml_flow.to_sso(rig, rig.service("hobo"))[1][-1].location.startswith(rig.service("authentic").url)


@check("saml-sp-metadata-wrong-host")
def _(rig):
    _cook_and_wait(rig)
    fargo = rig.service("fargo")
    other = "autre-site." + fargo.host.split(".", 1)[1]
    root = saml_flow.metadata(rig, fargo)
    assert root.get("entityID") == f"https://{other}/accounts/mellon/metadata/"
    _, pages = saml_flow.to_sso(rig, fargo)
    request, _ = saml_flow.authn_request(pages[-1].location or "")
    assert request.findtext("saml:Issuer", namespaces=saml_flow.NS) == f"https://{other}/accounts/mellon/metadata/"
    passerelle = saml_flow.metadata(rig, rig.service("passerelle"))
    assert rig.service("passerelle").host in (passerelle.get("entityID") or "")


@check("saml-superuser-password-wrong")
def _(rig):
    _cook_and_wait(rig)
    email, password = saml_flow.superuser(rig)
    agent, pages = saml_flow.to_sso(rig, rig.service("portal-agent"), "/login/?next=/")
    login_page = agent.get(pages[-1].location or "")
    refused = saml_flow.login_at_idp(agent, login_page, email, password)
    assert refused.host == rig.service("authentic").host and saml_flow.password_form(refused) is not None
    assert saml_flow.response_form(refused) is None


# -- targets ---------------------------------------------------------------------------------------
def test_fault_with_another_target(rig):
    rig.up("tls-expired:wcs", "dns-missing:connexion-preprod-moncompte.example.test")
    error = _verify_error(rig, "wcs", 0)
    assert isinstance(error, ssl.SSLCertVerificationError) and "expired" in error.verify_message
    assert _verify_error(rig, "authentic", 0) is None
    with pytest.raises(dns.resolver.NXDOMAIN):
        clients.resolve(rig.service("authentic").host)


@pytest.mark.parametrize("spec", ["no-such-fault", "tls-expired:nowhere", "skeleton-missing:combo",
                                  "db-missing:wcs", "tls-expired:authentic@ville09", "saml-idp-metadata-race:hobo",
                                  "saml-sp-unknown:authentic", "saml-superuser-password-wrong:wcs"])
def test_bad_fault_specs_are_refused_before_anything_changes(rig, spec):
    rig.up()
    with pytest.raises(SandboxError):
        rig.sandbox.up(faults=[spec])
    assert rig.sandbox.is_up(), "a bad fault must not bring the running sandbox down"
