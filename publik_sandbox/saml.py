"""SAML 2.0 plumbing shared by the sandbox's IdP and SPs: lasso, key pairs, metadata, tenant files.

The messages are built, signed and verified by lasso (Entr'ouvert's SAML library, the one authentic
and django-mellon use), from Debian's python3-lasso. It is loaded from the system's dist-packages by
explicit path, in the sandbox processes only: the venv's python is the same 3.11, and nothing else
of the system's site-packages leaks into the process.

On disk (what the agent writes at deploy, what the backends read on each request):
- every federated tenant: `saml/key.pem` (0600), `saml/cert.pem` — its own self-signed signing
  certificate, made once when the tenant is deployed (the key from the agent's pool: saml_deploy);
- the authentic tenant: `saml/providers/<sp host>.xml`, one SP metadata per registered service, and
  `saml/users.json`, the superuser (email, PBKDF2 hash) from the recipe's create-superuser;
- a w.c.s. tenant: `saml/idp-metadata.xml`, the IdP metadata fetched at deploy (absent after the
  "failed to get metadata URL" race).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import html
import importlib.util
import json
import os
import re
import secrets
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

DIST_PACKAGES = Path("/usr/lib/python3/dist-packages")
SAML_DIR = "saml"
PBKDF2_ITERATIONS = 10_000  # the sandbox hashes at every authentic deploy of a fleet: cheap on purpose

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"


class SamlUnavailable(RuntimeError):
    """python3-lasso is not installed (scripts/system-packages.sh installs it)."""


def load_lasso() -> Any:
    """The `lasso` module from Debian's python3-lasso, loaded by explicit path (cached in sys.modules)."""
    if "lasso" in sys.modules:
        return sys.modules["lasso"]
    extension = next(iter(sorted(DIST_PACKAGES.glob("_lasso.cpython-*.so"))), None)
    wrapper = DIST_PACKAGES / "lasso.py"
    if extension is None or not wrapper.exists():
        raise SamlUnavailable(f"python3-lasso is missing ({DIST_PACKAGES}/lasso.py): apt-get install python3-lasso")
    modules: list[ModuleType] = []
    for name, path in (("_lasso", extension), ("lasso", wrapper)):
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise SamlUnavailable(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # lasso.py imports _lasso by name
        try:
            spec.loader.exec_module(module)
        except ImportError as exc:
            sys.modules.pop(name, None)
            raise SamlUnavailable(f"cannot load {path}: {exc}") from None
        modules.append(module)
    return modules[-1]


# -- key pairs ------------------------------------------------------------------------------------
def make_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_keypair(host: str, key: Any = None) -> tuple[bytes, bytes]:
    """A self-signed signing certificate for `host` (valid 10 years) and its RSA-2048 key, PEM; a new key
    unless one is given."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = key or make_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def cert_body(cert_pem: bytes | str) -> str:
    """The base64 body of a PEM certificate, as ds:X509Certificate holds it."""
    text = cert_pem.decode() if isinstance(cert_pem, bytes) else cert_pem
    return "".join(line for line in text.splitlines() if line and not line.startswith("-----"))


# -- metadata -------------------------------------------------------------------------------------
_KEY_DESCRIPTOR = re.compile(r"<(?:\w+:)?KeyDescriptor\b.*?</(?:\w+:)?KeyDescriptor>\s*", re.S)
_X509 = re.compile(r"<(?:\w+:)?X509Certificate>\s*([A-Za-z0-9+/=\s]+?)\s*</(?:\w+:)?X509Certificate>")


def for_lasso(metadata: str) -> tuple[str, str | None]:
    """Metadata as the sandbox hands it to lasso: without its KeyDescriptor, the signing certificate apart
    (PEM). Measured here: lasso takes ~40 ms to load a provider whose metadata carries the certificate and
    ~0.5 ms when it is given apart, and a fleet has hundreds of tenants. The key is the same one."""
    found = _X509.search(metadata)
    pem = None
    if found:
        body = "".join(found.group(1).split())
        pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(body[i:i + 64] for i in range(0, len(body), 64)) \
            + "\n-----END CERTIFICATE-----\n"
    return _KEY_DESCRIPTOR.sub("", metadata), pem


def _key_descriptor(cert_pem: bytes | str) -> str:
    return (f'    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
            f"{cert_body(cert_pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\n")


def idp_entity_id(base_url: str) -> str:
    return base_url.rstrip("/") + "/idp/saml2/metadata"


def idp_metadata(base_url: str, cert_pem: bytes | str) -> str:
    """authentic's IdP metadata: SSO (Redirect, POST) and SLO on its own host."""
    base = html.escape(base_url.rstrip("/"), quote=True)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<md:EntityDescriptor xmlns:md="{MD}" xmlns:ds="{DS}" entityID="{base}/idp/saml2/metadata">\n'
        f'  <md:IDPSSODescriptor protocolSupportEnumeration="{PROTOCOL}" WantAuthnRequestsSigned="false">\n'
        + _key_descriptor(cert_pem)
        + f'    <md:SingleLogoutService Binding="{REDIRECT}" Location="{base}/idp/saml2/slo" '
        f'ResponseLocation="{base}/idp/saml2/slo_return"/>\n'
        f"    <md:NameIDFormat>{PERSISTENT}</md:NameIDFormat>\n"
        f'    <md:SingleSignOnService Binding="{REDIRECT}" Location="{base}/idp/saml2/sso"/>\n'
        f'    <md:SingleSignOnService Binding="{POST}" Location="{base}/idp/saml2/sso"/>\n'
        "  </md:IDPSSODescriptor>\n</md:EntityDescriptor>\n"
    )


# Where each SP flavour publishes its metadata and receives the Response (django-mellon, w.c.s.).
SP_PATHS = {
    "mellon": {"metadata": "/accounts/mellon/metadata/", "acs": "/accounts/mellon/login/",
               "artifact": "/accounts/mellon/login/", "slo": "/accounts/mellon/logout/"},
    "wcs": {"metadata": "/saml/metadata", "acs": "/saml/assertionConsumerPost",
            "artifact": "/saml/assertionConsumerArtifact", "slo": "/saml/singleLogout"},
}
ARTIFACT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"


def sp_flavour(kind: str) -> str:
    return "wcs" if kind == "wcs" else "mellon"


def sp_entity_id(base_url: str, kind: str) -> str:
    return base_url.rstrip("/") + SP_PATHS[sp_flavour(kind)]["metadata"]


def sp_metadata(base_url: str, kind: str, cert_pem: bytes | str) -> str:
    """A service's SP metadata, every URL under `base_url` (the service's own, unless a fault says otherwise).

    mellon's shape: a KeyDescriptor without `use`, ACS index 0 HTTP-Artifact and index 1 HTTP-POST (the
    default); w.c.s.'s: a signing KeyDescriptor, ACS HTTP-POST first."""
    flavour = sp_flavour(kind)
    paths = SP_PATHS[flavour]
    base = html.escape(base_url.rstrip("/"), quote=True)
    post = f'Binding="{POST}" Location="{base}{paths["acs"]}"'
    artifact = f'Binding="{ARTIFACT}" Location="{base}{paths["artifact"]}"'
    if flavour == "mellon":
        key = _key_descriptor(cert_pem).replace(' use="signing"', "")
        consumers = (f'    <md:AssertionConsumerService index="0" {artifact}/>\n'
                     f'    <md:AssertionConsumerService index="1" isDefault="true" {post}/>\n')
    else:
        key = _key_descriptor(cert_pem)
        consumers = (f'    <md:AssertionConsumerService index="0" isDefault="true" {post}/>\n'
                     f'    <md:AssertionConsumerService index="1" {artifact}/>\n')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<md:EntityDescriptor xmlns:md="{MD}" xmlns:ds="{DS}" entityID="{base}{paths["metadata"]}">\n'
        f'  <md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" '
        f'protocolSupportEnumeration="{PROTOCOL}">\n'
        + key
        + f'    <md:SingleLogoutService Binding="{REDIRECT}" Location="{base}{paths["slo"]}"/>\n'
        f"    <md:NameIDFormat>{PERSISTENT}</md:NameIDFormat>\n"
        + consumers
        + "  </md:SPSSODescriptor>\n</md:EntityDescriptor>\n"
    )


# -- the superuser --------------------------------------------------------------------------------
def hash_password(password: str, salt: str | None = None) -> str:
    """Django's pbkdf2_sha256 format (`pbkdf2_sha256$<iterations>$<salt>$<hex>`), stdlib only."""
    salt = salt or secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), PBKDF2_ITERATIONS).hex()
    return f"pbkdf2_sha256${PBKDF2_ITERATIONS}${salt}${digest}"


def check_password(password: str, encoded: str) -> bool:
    try:
        algorithm, iterations, salt, digest = encoded.split("$")
    except ValueError:
        return False
    if algorithm != "pbkdf2_sha256" or not iterations.isdigit():
        return False
    ours = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations)).hex()
    return hmac.compare_digest(ours, digest)


# -- tenant files ---------------------------------------------------------------------------------
def saml_dir(tenant: Path) -> Path:
    return tenant / SAML_DIR


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def read_users(idp_tenant: Path) -> list[dict]:
    try:
        users = json.loads((saml_dir(idp_tenant) / "users.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [u for u in users if isinstance(u, dict)] if isinstance(users, list) else []


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Atomic write with the mode set before the file appears."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
