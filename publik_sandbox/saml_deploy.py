"""Federation at deploy time: what the agent does for SAML when it deploys a tenant.

As hobo's deployment does on a real platform:
- every tenant gets its own signing certificate (made once; a re-deploy keeps it), its RSA key taken
  from a small pool the agent makes when it starts (so neither `up` nor a fleet's deployment waits);
- a service provider (every service but authentic) publishes its SP metadata and its deployment
  registers it with the IdP (the authentic tenant's `saml/providers/`); when authentic is deployed
  after it, authentic's deployment registers the services already deployed — a service is known to
  the IdP only once a deployment registered it; a mellon SP keeps a copy of the IdP metadata when
  authentic is already there (else it loads it when needed, as mellon's METADATA_URL);
- authentic gets the instance's superuser (the recipe's create-superuser email, the password the
  suite holds as a secret) as a PBKDF2 hash;
- w.c.s. fetches the IdP metadata while it deploys: if authentic is not there (yet), it logs
  "failed to get metadata URL" and writes its tenant anyway, with no IdP.

Faults: saml-sp-unknown (never registered), saml-idp-metadata-race (w.c.s. finds the metadata
unreachable), saml-sp-metadata-wrong-host (SP metadata naming autre-site.<domain>),
saml-superuser-password-wrong (another password's hash).
"""

from __future__ import annotations

import json
import secrets
import shutil
import sys
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from publik_acceptance.config.catalogue import SERVICE_KINDS
from publik_acceptance.config.naming import hostname
from publik_sandbox import saml

_REGISTRATION = threading.Lock()  # one registry per IdP: an SP and authentic deploying at once must not miss
KEY_POOL_SIZE = 4


class KeyPool:
    """RSA keys made once per agent (per `up`), in the background from its start: a fleet deploys hundreds
    of tenants, and a 2048-bit key costs ~40 ms. Each tenant still gets its own certificate (its host)."""

    def __init__(self, size: int = KEY_POOL_SIZE) -> None:
        self._keys: list[Any] = []
        self._ready = threading.Event()
        self._size = size
        threading.Thread(target=self._fill, daemon=True, name="saml-keys").start()

    def _fill(self) -> None:
        try:
            self._keys = [saml.make_key() for _ in range(self._size)]
        finally:
            self._ready.set()

    def key_for(self, host: str) -> Any:
        self._ready.wait(timeout=60)
        return self._keys[zlib.crc32(host.encode()) % len(self._keys)] if self._keys else None


class Federation:
    """The agent's SAML steps; `root` is the sandbox's server filesystem, `runtime` its sandbox.json."""

    def __init__(self, root: Path, runtime: dict, event: Callable[..., None]) -> None:
        self.root = root
        self.settings = runtime.get("saml") or {}
        self.event = event
        self.keys_pool = KeyPool()

    def tenant(self, kind: str, host: str) -> Path | None:
        base = self.root / SERVICE_KINDS[kind].tenants_dir.lstrip("/")
        for path in (base / host, base.parent / host) if kind == "wcs" else (base / host,):
            if path.is_dir():
                return path
        return None

    def idp_entry(self, message: dict) -> dict | None:
        return next((s for s in message.get("services", []) if s.get("service-id") == "authentic"), None)

    # -- every tenant ---------------------------------------------------------------------------
    def prepare(self, host: str) -> tuple[bytes, bytes]:
        """The tenant's certificate and key, made before its directory appears: the backends serve a tenant as
        soon as it exists, and a half-federated one would answer errors in between."""
        return saml.make_keypair(host, self.keys_pool.key_for(host))

    def keys(self, tenant: Path, host: str, owner: str, pair: tuple[bytes, bytes] | None = None) -> Path:
        directory = saml.saml_dir(tenant)
        directory.mkdir(mode=0o755, exist_ok=True)
        shutil.chown(directory, owner, owner)
        if not (directory / "key.pem").exists() or not (directory / "cert.pem").exists():
            cert, key = pair or self.prepare(host)
            self._write(directory / "key.pem", key, owner, 0o600)
            self._write(directory / "cert.pem", cert, owner, 0o644)
        return directory

    def federate(self, entry: dict, message: dict, faults: dict[str, set[str]], tenant: Path, owner: str,
                 pair: tuple[bytes, bytes] | None = None) -> None:
        """Keys, then the role's own step: IdP (superuser, registry) or SP (metadata, registration)."""
        kind, host = entry["service-id"], hostname(entry["base_url"])
        directory = self.keys(tenant, host, owner, pair)
        if kind == "authentic":
            providers = directory / "providers"
            providers.mkdir(mode=0o755, exist_ok=True)
            shutil.chown(providers, owner, owner)
            with _REGISTRATION:
                for other in message.get("services", []):
                    if other.get("service-id") != "authentic":
                        self.register(other, faults, providers)
            self.superuser(directory, host, owner, faults)  # after the registry: only a login waits for it
            return
        base_url = entry["base_url"]
        if host in faults.get("saml-sp-metadata-wrong-host", ()):
            domain = host.split(".", 1)[1] if "." in host else host
            base_url = f"https://autre-site.{domain}/"
        metadata = saml.sp_metadata(base_url, kind, (directory / "cert.pem").read_bytes())
        self._write(directory / "metadata.xml", metadata.encode(), owner, 0o644)
        idp = self.idp_entry(message)
        idp_tenant = self.tenant("authentic", hostname(idp["base_url"])) if idp else None
        if idp_tenant is not None:
            with _REGISTRATION:
                self.register(entry, faults, saml.saml_dir(idp_tenant) / "providers")
            cert = saml.read_text(saml.saml_dir(idp_tenant) / "cert.pem")
            if idp and cert and kind != "wcs":  # mellon keeps a copy; without one it loads METADATA_URL when needed
                self._write(directory / "idp-metadata.xml", saml.idp_metadata(idp["base_url"], cert).encode(),
                            owner, 0o644)

    def register(self, entry: dict, faults: dict[str, set[str]], providers: Path) -> None:
        """Copy a deployed SP's metadata into the IdP's registry (unless saml-sp-unknown)."""
        host = hostname(entry["base_url"])
        if not providers.is_dir() or host in faults.get("saml-sp-unknown", ()):
            return
        tenant = self.tenant(entry["service-id"], host)
        metadata = saml.read_text(saml.saml_dir(tenant) / "metadata.xml") if tenant else None
        if metadata is None:
            return  # not deployed yet: its own deployment will register it
        target = providers / f"{host}.xml"
        if saml.read_text(target) != metadata:
            self._write(target, metadata.encode(), SERVICE_KINDS["authentic"].owner, 0o644)
            self.event("saml-registered", host=host, idp=providers.parent.parent.name)

    def superuser(self, directory: Path, host: str, owner: str, faults: dict[str, set[str]]) -> None:
        email = (self.settings.get("superusers") or {}).get(host)
        password_file = self.settings.get("superuser_password_file")
        if not email or not password_file:
            return
        try:
            password = Path(password_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            self.event("saml-superuser-failed", host=host, error=exc.strerror)
            return
        if host in faults.get("saml-superuser-password-wrong", ()):
            password = secrets.token_urlsafe(18)  # created with another password (an earlier cook's)
        users = [{"email": email, "username": email, "first_name": "Admin", "last_name": "Publik",
                  "is_superuser": True, "password": saml.hash_password(password)}]
        self._write(directory / "users.json", json.dumps(users, indent=1).encode(), owner, 0o600)

    # -- w.c.s. ---------------------------------------------------------------------------------
    def fetch_idp_metadata(self, entry: dict, message: dict, faults: dict[str, set[str]], tenant: Path,
                           owner: str) -> bool:
        """w.c.s.'s deploy: get the IdP metadata (waiting a little for authentic to be deployed, as hobo
        orders the deployments), or print "failed to get metadata URL" and go on without an IdP."""
        host = hostname(entry["base_url"])
        idp = self.idp_entry(message)
        directory = saml.saml_dir(tenant)
        metadata = None
        if idp is not None and host not in faults.get("saml-idp-metadata-race", ()):
            deadline = time.monotonic() + float(self.settings.get("idp_wait", 2.0))
            while metadata is None:
                idp_tenant = self.tenant("authentic", hostname(idp["base_url"]))
                cert = saml.read_text(saml.saml_dir(idp_tenant) / "cert.pem") if idp_tenant else None
                if cert:
                    metadata = saml.idp_metadata(idp["base_url"], cert)
                elif time.monotonic() >= deadline:
                    break
                else:
                    time.sleep(0.05)
        if metadata is None:
            url = saml.idp_entity_id(idp["base_url"]) if idp else "(no authentic in the environment)"
            sys.stderr.write(f"wcs {host}: failed to get metadata URL ({url})\n")
            sys.stderr.flush()
            self.event("saml-idp-metadata-failed", host=host, url=url, message="failed to get metadata URL")
            (directory / "idp-metadata.xml").unlink(missing_ok=True)
            return False
        self._write(directory / "idp-metadata.xml", metadata.encode(), owner, 0o644)
        return True

    @staticmethod
    def _write(path: Path, data: bytes, owner: str, mode: int) -> None:
        saml.write_private(path, data, mode)
        shutil.chown(path, owner, owner)
