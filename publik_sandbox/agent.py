"""The hobo-agent stand-in: a root daemon deploying services asynchronously, in any order.

It reads the messages the `hobo-manage` stand-in drops in `$STATE/agent/queue/` (hobo's
broadcast of the environment) and deploys each service after a random delay, like
`<svc>-manage hobo_deploy` run by hobo-agent on each server:

- Django services: `CREATE SCHEMA` in the service database (as postgres over the socket), then
  the tenant directory owned by the service user, with `hobo.json` (the environment: services, and
  variables such as set-theme's `theme`).
- w.c.s.: the tenant directory with `site-options.cfg` marked `deployment-in-progress.invalid`,
  the skeleton (template_name, then default.zip, then default), the database created with the
  skeleton's createdb-connection-params (so a role without CREATEDB really fails), `wcs_meta`,
  `config.pck`, and last the marker removed; site-options.cfg keeps the skeleton's options. As in
  w.c.s., the database is only created for a new tenant: re-running cook does not retry it.

Re-deploying an existing tenant only refreshes its hobo.json (get-or-create). Post-cook faults
come from `$STATE/faults.json`. Every step is logged to `$STATE/agent/events.jsonl`.

Run: `python -m publik_sandbox.agent <state_dir>`.
"""

from __future__ import annotations

import configparser
import io
import json
import os
import pickle
import random
import shutil
import sys
import threading
import time
import zipfile
from pathlib import Path

from publik_acceptance.config.catalogue import SERVICE_KINDS, WCS_DEPLOYING_HOSTNAME
from publik_acceptance.config.naming import django_schema_name, hostname, wcs_database_name
from publik_sandbox.saml_deploy import Federation


class DeployError(Exception):
    pass


class Agent:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.runtime = json.loads((state / "sandbox.json").read_text())
        self.root = Path(self.runtime["root"])
        self.queue = state / "agent" / "queue"
        self.events = state / "agent" / "events.jsonl"
        self._lock = threading.Lock()
        self._host_locks: dict[str, threading.Lock] = {}
        self.federation = Federation(self.root, self.runtime, self.event)

    # -- plumbing ---------------------------------------------------------------------------------
    def event(self, event: str, **fields: object) -> None:
        line = json.dumps({"at": time.time(), "event": event, **fields})
        with self._lock, open(self.events, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def faults(self) -> dict[str, set[str]]:
        try:
            faults = json.loads((self.state / "faults.json").read_text())
        except (OSError, ValueError):
            return {}
        out: dict[str, set[str]] = {}
        for fault in faults:
            out.setdefault(fault["name"], set()).update(fault["hostnames"])
        return out

    def host_lock(self, host: str) -> threading.Lock:
        with self._lock:
            return self._host_locks.setdefault(host, threading.Lock())

    def pg(self, dbname: str):  # -> psycopg.Connection
        import psycopg

        return psycopg.connect(host=self.runtime["pg_socket_dir"], port=self.runtime["pg_port"],
                               user="postgres", dbname=dbname, autocommit=True, connect_timeout=5)

    # -- main loop --------------------------------------------------------------------------------
    def run(self) -> None:
        (self.state / "agent" / "ready").write_text(str(os.getpid()))
        while True:
            for path in sorted(self.queue.glob("[!.]*.json")):
                try:
                    message = json.loads(path.read_text())
                except (OSError, ValueError) as exc:
                    self.event("bad-message", file=path.name, error=str(exc))
                    path.unlink(missing_ok=True)
                    continue
                path.unlink(missing_ok=True)
                self.dispatch(message)
            time.sleep(0.05)

    def dispatch(self, message: dict) -> None:
        faults = self.faults()
        immediate = bool(message.get("immediate"))
        low, high = self.runtime["deploy_delay"]
        only = message.get("deploy_only")
        for entry in message.get("services", []):
            if only is not None and entry["base_url"] not in only:
                continue
            host = hostname(entry["base_url"])
            # A cook run with --timeout waits for the services: delays meant to outlast the cook count from
            # its timeout (the postdeploy deadline starts when the cook ends).
            cook_timeout = message.get("cook_timeout") or 0.0
            if immediate:
                delay = 0.0
            elif host in faults.get("deploy-never", ()) or host in faults.get("cook-ok-service-failed", ()):
                self.event("never", host=host, service=entry["service-id"])
                continue
            elif host in faults.get("deploy-late", ()):
                delay = self.runtime["late_delay"]
            elif host in faults.get("cook-times-out-waiting", ()):
                delay = cook_timeout + self.runtime["late_delay"]
            elif host in faults.get("deploy-beyond-deadline", ()):
                delay = cook_timeout + self.runtime["beyond_delay"]
            else:
                delay = random.uniform(low, high)
            self.event("scheduled", host=host, service=entry["service-id"], delay=round(delay, 3))
            timer = threading.Timer(delay, self.deploy, args=(entry, message, faults))
            timer.daemon = True
            timer.start()

    def deploy(self, entry: dict, message: dict, faults: dict[str, set[str]]) -> None:
        host = hostname(entry["base_url"])
        kind = entry["service-id"]
        with self.host_lock(host):
            try:
                result = (self.deploy_wcs if kind == "wcs" else self.deploy_django)(entry, message, faults)
            except Exception as exc:  # one failed service must not stop the agent
                self.event("failed", host=host, service=kind, error=f"{type(exc).__name__}: {exc}")
                return
            self.event(result, host=host, service=kind)

    # -- deploy steps -----------------------------------------------------------------------------
    def tenant_dir(self, kind: str, host: str, faults: dict[str, set[str]] | None = None) -> Path:
        """`tenants/<host>`; under wcs-old-location(-leftover), w.c.s.'s old location `/var/lib/wcs/<host>`
        (an old installation's tenant, which w.c.s. still serves and updates in place)."""
        tenants = self.root / SERVICE_KINDS[kind].tenants_dir.lstrip("/")
        old = (faults or {}).get("wcs-old-location", set()) | (faults or {}).get("wcs-old-location-leftover", set())
        return tenants.parent / host if kind == "wcs" and host in old else tenants / host

    def owner(self, kind: str, host: str, faults: dict[str, set[str]]) -> str:
        return "root" if host in faults.get("deploy-wrong-owner", ()) else SERVICE_KINDS[kind].owner

    def write(self, path: Path, data: bytes, owner: str, mode: int = 0o640) -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        shutil.chown(tmp, owner, owner)
        tmp.chmod(mode)
        os.replace(tmp, path)

    def hobo_json(self, entry: dict, message: dict) -> bytes:
        services = [dict(s, this=True) if s["base_url"] == entry["base_url"] else dict(s)
                    for s in message.get("services", [])]
        variables = dict(message.get("variables", {}))  # set-theme's `theme` among them
        if hostname(entry["base_url"]) in self.faults().get("theme-not-applied", ()):
            variables["theme"] = "publik-legacy"  # a tenant deployed with another theme
        return json.dumps({"services": services, "variables": variables}, indent=2, ensure_ascii=False).encode()

    def make_tenant(self, kind: str, host: str, faults: dict[str, set[str]]) -> Path:
        tenant = self.tenant_dir(kind, host, faults)
        tenant.mkdir(mode=0o755)
        owner = self.owner(kind, host, faults)
        shutil.chown(tenant, owner, owner)
        return tenant

    def deploy_django(self, entry: dict, message: dict, faults: dict[str, set[str]]) -> str:
        kind, host = entry["service-id"], hostname(entry["base_url"])
        tenant = self.tenant_dir(kind, host)
        owner = self.owner(kind, host, faults)
        if tenant.is_dir():
            self.write(tenant / "hobo.json", self.hobo_json(entry, message), owner)
            self.federation.federate(entry, message, faults, tenant, owner)
            return "updated"
        error = None
        if host not in faults.get("deploy-schema-missing", ()):
            database = self.runtime["databases"].get(kind)
            try:
                from psycopg import sql

                with self.pg(database) as conn:
                    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                        sql.Identifier(self.schema_name(kind, host, faults))))
            except Exception as exc:
                error = f"schema not created in database {database!r}: {exc}"
        pair = self.federation.prepare(host)
        tenant = self.make_tenant(kind, host, faults)
        self.federation.federate(entry, message, faults, tenant, owner, pair)  # before hobo.json, the last file
        self.write(tenant / "hobo.json", self.hobo_json(entry, message), owner)
        if error:
            raise DeployError(error)
        return "deployed"

    def schema_name(self, kind: str, host: str, faults: dict[str, set[str]]) -> str:
        """hobo's hostname2schema; under schema-name-differs, another name, recorded as the service's
        TENANT_MAPPING (`$ROOT/etc/<service>/tenant-mapping.json`, read by the manage stand-in's
        list_tenants), as on a platform whose settings map a renamed hostname to its old schema."""
        schema = django_schema_name(host)
        if host not in faults.get("schema-name-differs", ()):
            return schema
        mapped = f"old_{schema}"[:63]
        settings = self.root / "etc" / Path(SERVICE_KINDS[kind].tenants_dir).parent.name
        settings.mkdir(parents=True, exist_ok=True)
        path = settings / "tenant-mapping.json"
        try:
            mapping = json.loads(path.read_text())
        except (OSError, ValueError):
            mapping = {}
        mapping[host] = mapped
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(mapping, indent=1))
        tmp.chmod(0o644)
        os.replace(tmp, path)
        return mapped

    def find_skeleton(self, template_name: str | None) -> Path | None:
        skeletons = Path(self.runtime["skeletons_dir"])
        for name in (template_name, "default.zip", "default"):
            if name and (skeletons / name).exists():
                return skeletons / name
        return None

    def deploy_wcs(self, entry: dict, message: dict, faults: dict[str, set[str]]) -> str:
        host = hostname(entry["base_url"])
        tenant = self.tenant_dir("wcs", host, faults)
        owner = self.owner("wcs", host, faults)
        if tenant.is_dir():
            self.write(tenant / "hobo.json", self.hobo_json(entry, message), owner)
            self.federation.federate(entry, message, faults, tenant, owner)
            self.federation.fetch_idp_metadata(entry, message, faults, tenant, owner)  # a re-deploy fetches again
            return "updated"
        tenant = self.make_tenant("wcs", host, faults)
        options = configparser.ConfigParser(interpolation=None)
        options["options"] = {"allowed_hostname": WCS_DEPLOYING_HOSTNAME}
        self.write_options(tenant, options, owner)
        self.write(tenant / "hobo.json", self.hobo_json(entry, message), owner)
        config, skeleton_options = self.read_skeleton(entry.get("template_name"))
        if host in faults.get("wcs-site-options-lost", ()):
            skeleton_options = configparser.ConfigParser(interpolation=None)  # deployed without them
        for section in skeleton_options.sections():
            if not options.has_section(section):
                options.add_section(section)
            for key, value in skeleton_options[section].items():
                options[section][key] = value
        options["options"]["allowed_hostname"] = WCS_DEPLOYING_HOSTNAME
        self.write_options(tenant, options, owner)
        error = None
        postgresql = dict(config.get("postgresql") or {})
        if postgresql:
            createdb = postgresql.pop("createdb-connection-params", None) or {}
            template = postgresql.pop("database-template-name", None)
            dbname = wcs_database_name(entry["base_url"], template)
            postgresql["database"] = dbname
            if host not in faults.get("wcs-database-missing", ()):
                try:
                    self.create_database(createdb, dbname)
                except Exception as exc:  # w.c.s. reports it on stderr and goes on
                    error = f"database {dbname} not created: {type(exc).__name__}: {exc}"
        self.federation.federate(entry, message, faults, tenant, owner)
        self.federation.fetch_idp_metadata(entry, message, faults, tenant, owner)
        pck = {k: v for k, v in config.items() if k != "postgresql"}
        if postgresql:
            pck["postgresql"] = postgresql
        self.write(tenant / "config.pck", pickle.dumps(pck, protocol=4), owner, 0o600)
        options.remove_option("options", "allowed_hostname")
        self.write_options(tenant, options, owner)
        if error:
            raise DeployError(error)
        return "deployed"

    def write_options(self, tenant: Path, options: configparser.ConfigParser, owner: str) -> None:
        buffer = io.StringIO()
        options.write(buffer)
        self.write(tenant / "site-options.cfg", buffer.getvalue().encode(), owner, 0o644)

    def read_skeleton(self, template_name: str | None) -> tuple[dict, configparser.ConfigParser]:
        """config.json and site-options.cfg of the skeleton; DeployError leaves the tenant half-done."""
        options = configparser.ConfigParser(interpolation=None)
        path = self.find_skeleton(template_name)
        if path is None:
            return {}, options
        try:
            if path.is_dir():
                config_raw = (path / "config.json").read_bytes() if (path / "config.json").exists() else b"{}"
                options_raw = (path / "site-options.cfg").read_text() if (path / "site-options.cfg").exists() else ""
            else:
                with zipfile.ZipFile(path) as archive:
                    names = archive.namelist()
                    config_raw = archive.read("config.json") if "config.json" in names else b"{}"
                    options_raw = archive.read("site-options.cfg").decode() if "site-options.cfg" in names else ""
            config = json.loads(config_raw)
            options.read_string(options_raw)
        except (OSError, zipfile.BadZipFile, ValueError, configparser.Error) as exc:
            raise DeployError(f"skeleton {path.name} unusable: {type(exc).__name__}: {exc}") from None
        return config, options

    def create_database(self, params: dict, dbname: str) -> None:
        import psycopg
        from psycopg import sql

        def connect(database: str) -> psycopg.Connection:
            return psycopg.connect(dbname=database, host=params.get("host"), port=int(params.get("port") or 5432),
                                   user=params.get("user"), password=params.get("password"), connect_timeout=5,
                                   autocommit=True)

        with connect(params.get("database") or "postgres") as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        with connect(dbname) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS wcs_meta (id serial PRIMARY KEY, "
                         "key varchar NOT NULL, value varchar)")


def main(argv: list[str]) -> int:
    Agent(Path(argv[1])).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
