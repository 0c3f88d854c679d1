"""The federation steps of the sandbox's deployments, on a temporary root (no servers): the
registration rule whatever the deployment order, the faults' effects on disk, and the helpers the
backends rely on (metadata handed to lasso, password hashes, bounded pending stores)."""

from __future__ import annotations

import json
import os
import pwd
import time
from pathlib import Path

import pytest

from publik_acceptance.config.catalogue import SERVICE_KINDS
from publik_sandbox import saml, saml_web
from publik_sandbox.saml_deploy import Federation

SERVICES = [
    {"service-id": "authentic", "base_url": "https://connexion.example.test/"},
    {"service-id": "combo", "base_url": "https://agents.example.test/"},
    {"service-id": "wcs", "base_url": "https://demarches.example.test/"},
    {"service-id": "passerelle", "base_url": "https://passerelle.example.test/"},
]
ME = pwd.getpwuid(os.getuid()).pw_name


class Deployer:
    """Federation on a temporary root, with the events it logs."""

    def __init__(self, root: Path, faults: dict[str, set[str]] | None = None) -> None:
        password = root / "superuser_password"
        password.write_text("s3cret-pass\n")
        self.events: list[dict] = []
        self.root = root
        self.faults = faults or {}
        self.federation = Federation(root, {"saml": {
            "superusers": {"connexion.example.test": "admin@example.test"},
            "superuser_password_file": str(password), "idp_wait": 0.2}},
            lambda event, **fields: self.events.append({"event": event, **fields}))

    def tenant(self, entry: dict) -> Path:
        return self.root / SERVICE_KINDS[entry["service-id"]].tenants_dir.lstrip("/") / entry["base_url"].split("/")[2]

    def deploy(self, entry: dict) -> Path:
        tenant = self.tenant(entry)
        tenant.mkdir(parents=True)
        self.federation.federate(entry, {"services": SERVICES}, self.faults, tenant, ME)
        if entry["service-id"] == "wcs":
            self.federation.fetch_idp_metadata(entry, {"services": SERVICES}, self.faults, tenant, ME)
        return tenant

    def registered(self) -> set[str]:
        providers = self.tenant(SERVICES[0]) / "saml" / "providers"
        return {p.stem for p in providers.glob("*.xml")}


@pytest.mark.parametrize("order", [[0, 1, 2, 3], [1, 3, 0, 2], [3, 2, 1, 0]], ids=["idp-first", "mixed", "idp-last"])
def test_every_deployed_service_is_registered_whatever_the_order(tmp_path, order):
    deployer = Deployer(tmp_path)
    for index in order:
        deployer.deploy(SERVICES[index])
    hosts = {s["base_url"].split("/")[2] for s in SERVICES[1:]}
    assert deployer.registered() == hosts
    for entry in SERVICES[1:]:
        registered = deployer.tenant(SERVICES[0]) / "saml" / "providers" / f"{entry['base_url'].split('/')[2]}.xml"
        assert registered.read_text() == (deployer.tenant(entry) / "saml" / "metadata.xml").read_text()


def test_a_service_is_unknown_until_deployed(tmp_path):
    deployer = Deployer(tmp_path)
    deployer.deploy(SERVICES[0])
    deployer.deploy(SERVICES[1])
    assert deployer.registered() == {"agents.example.test"}


def test_wcs_deployed_before_authentic_without_it_fails_to_get_the_metadata(tmp_path):
    deployer = Deployer(tmp_path)
    started = time.monotonic()
    wcs = deployer.deploy(SERVICES[2])
    assert time.monotonic() - started >= 0.2, "w.c.s. waits a little for authentic, as hobo orders deployments"
    assert not (wcs / "saml" / "idp-metadata.xml").exists()
    assert [e["message"] for e in deployer.events if e["event"] == "saml-idp-metadata-failed"] == [
        "failed to get metadata URL"]
    deployer.deploy(SERVICES[0])
    assert "demarches.example.test" in deployer.registered(), "registered anyway: only its IdP side is missing"


def test_faults_on_disk(tmp_path):
    deployer = Deployer(tmp_path, {"saml-sp-unknown": {"passerelle.example.test"},
                                   "saml-idp-metadata-race": {"demarches.example.test"},
                                   "saml-sp-metadata-wrong-host": {"agents.example.test"},
                                   "saml-superuser-password-wrong": {"connexion.example.test"}})
    for entry in SERVICES:
        deployer.deploy(entry)
    assert "passerelle.example.test" not in deployer.registered()
    assert not (deployer.tenant(SERVICES[2]) / "saml" / "idp-metadata.xml").exists()
    combo = (deployer.tenant(SERVICES[1]) / "saml" / "metadata.xml").read_text()
    assert 'entityID="https://autre-site.example.test/accounts/mellon/metadata/"' in combo
    assert "agents.example.test" not in combo
    users = json.loads((deployer.tenant(SERVICES[0]) / "saml" / "users.json").read_text())
    assert users[0]["email"] == "admin@example.test"
    assert not saml.check_password("s3cret-pass", users[0]["password"])


def test_superuser_password_is_hashed_and_checked(tmp_path):
    deployer = Deployer(tmp_path)
    idp = deployer.deploy(SERVICES[0])
    (user,) = json.loads((idp / "saml" / "users.json").read_text())
    assert "s3cret-pass" not in json.dumps(user)
    assert saml.check_password("s3cret-pass", user["password"])
    assert not saml.check_password("s3cret-pasS", user["password"])
    assert not saml.check_password("s3cret-pass", "md5$x$y")
    assert (idp / "saml" / "key.pem").stat().st_mode & 0o077 == 0
    assert (idp / "users.json").exists() is False and (idp / "saml" / "users.json").stat().st_mode & 0o077 == 0


def test_metadata_given_to_lasso_keeps_the_published_certificate(tmp_path):
    cert, _ = saml.make_keypair("agents.example.test")
    metadata = saml.sp_metadata("https://agents.example.test/", "combo", cert)
    stripped, pem = saml.for_lasso(metadata)
    assert "KeyDescriptor" not in stripped and "AssertionConsumerService" in stripped
    assert pem is not None and saml.cert_body(pem) == saml.cert_body(cert)
    lasso = saml.load_lasso()
    server = lasso.Server.newFromBuffers(stripped, None, None, None)
    assert server.providerId == "https://agents.example.test/accounts/mellon/metadata/"


def test_pending_store_is_bounded_by_size_and_age():
    store = saml_web.Pending(ttl=0.05, size=3)
    for key in "abcd":
        store.put(key, key.upper())
    assert store.get("a") is None and store.get("d") == "D"
    assert store.pop("d") == "D" and store.pop("d") is None
    time.sleep(0.06)
    assert store.get("c") is None


def test_next_stays_on_the_host():
    assert saml_web.safe_next("/backoffice/", "w.example.test") == "/backoffice/"
    assert saml_web.safe_next("https://w.example.test/x", "w.example.test") == "https://w.example.test/x"
    for bad in ("//evil.example/", "https://evil.example/", "http://w.example.test/", "javascript:alert(1)"):
        assert saml_web.safe_next(bad, "w.example.test") == "/"


def test_lasso_stays_in_the_sandbox():
    """The product never loads the system's SAML library: only the sandbox processes do (saml.load_lasso)."""
    product = Path(__file__).resolve().parents[2] / "publik_acceptance"
    users = [p for p in product.rglob("*.py") if "load_lasso" in p.read_text() or "import lasso" in p.read_text()]
    assert users == []
