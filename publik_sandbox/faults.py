"""The fault catalogue: realistic deployment mistakes the sandbox can be brought up with.

Each fault names the phase it is meant to break, what it breaks, its default target and the layer
that applies it. Faults on the network path (DNS, TLS, frontend) and on the hosts (skeleton,
hobo-manage, database, SSH) are built into the configuration at `up`; faults that act after cook
are written to `$STATE/faults.json`, which the stand-in, the agent and the backends read.

A target is a service of the first instance, named by kind (`wcs`), template or slug
(`portal-agent`) or hostname, optionally `@<instance>`; faults on a host take the server role.
"""

from __future__ import annotations

from dataclasses import dataclass

from publik_sandbox.recipes import SandboxInstance, Service

PREFLIGHT, COOK, POSTDEPLOY = "preflight", "cook", "postdeploy"


class FaultError(ValueError):
    """A fault specification that cannot be applied (unknown name, bad target)."""


@dataclass(frozen=True)
class Fault:
    name: str
    phase: str
    layer: str  # dns, tls, frontend, host, postgres, ssh, cook, agent, backend, tenants
    default_target: str
    breaks: str
    service_target: bool = True  # False: the target is a server role, only the default is valid

    def line(self) -> str:
        return f"{self.name:<24} {self.phase:<10} [{self.default_target}] {self.breaks}"


_F = Fault
CATALOGUE: dict[str, Fault] = {
    f.name: f
    for f in (
        # -- DNS ---------------------------------------------------------------------------------
        _F("dns-missing", PREFLIGHT, "dns", "portal-agent",
           "no DNS record for the hostname: the resolver answers NXDOMAIN"),
        _F("dns-wrong-address", PREFLIGHT, "dns", "wcs",
           "one of the two A records points to 127.0.0.19, where nothing listens, instead of frontend 2"),
        # -- TLS ---------------------------------------------------------------------------------
        _F("tls-expired", PREFLIGHT, "tls", "authentic",
           "both frontends serve a certificate for the hostname that expired yesterday"),
        _F("tls-wrong-name", PREFLIGHT, "tls", "passerelle",
           "the frontends serve a certificate issued for another name (autre-site.<zone>)"),
        _F("tls-untrusted", PREFLIGHT, "tls", "fargo",
           "the certificate is issued by a CA the clients do not trust"),
        _F("tls-expiring-soon", PREFLIGHT, "tls", "hobo",
           "the certificate is valid but expires in 10 days (fewer than the 21 required)"),
        _F("tls-one-frontend", PREFLIGHT, "tls", "portal-user",
           "frontend 2 only serves an expired certificate for the hostname; frontend 1 is fine"),
        # -- HTTP --------------------------------------------------------------------------------
        _F("http-already-200", PREFLIGHT, "frontend", "portal-agent",
           "a leftover site on the frontends already answers 200 for the planned hostname"),
        _F("http-502", PREFLIGHT, "frontend", "passerelle",
           "the frontends proxy the hostname to a port where nothing listens: 502 Bad Gateway"),
        _F("http-hang", PREFLIGHT, "frontend", "fargo",
           "the frontends proxy the hostname to a backend that accepts and never answers"),
        _F("http-no-vhost", PREFLIGHT, "frontend", "authentic",
           "the frontends have no vhost for the hostname: nginx's default server answers its own 404 "
           "(its certificate covers the name)"),
        # -- hosts -------------------------------------------------------------------------------
        _F("skeleton-missing", PREFLIGHT, "host", "wcs",
           "no modele.zip in the w.c.s. skeletons directory", service_target=False),
        _F("skeleton-corrupt", PREFLIGHT, "host", "wcs",
           "modele.zip is not a zip file (a truncated upload)", service_target=False),
        _F("skeleton-world-readable", PREFLIGHT, "host", "wcs",
           "modele.zip, which holds database passwords, is mode 0644", service_target=False),
        _F("hobo-manage-missing", PREFLIGHT, "host", "hobo",
           "the hobo-manage command does not exist on the hobo server", service_target=False),
        _F("db-no-createdb", PREFLIGHT, "postgres", "wcs",
           "the skeleton's database role lacks CREATEDB: w.c.s. cannot create its database at cook",
           service_target=False),
        _F("db-missing", PREFLIGHT, "postgres", "passerelle",
           "the service's shared database does not exist (its schema cannot be created)"),
        _F("ssh-host-key-unknown", PREFLIGHT, "ssh", "hobo",
           "the servers' SSH host key is not in the generated known_hosts", service_target=False),
        _F("ssh-host-key-changed", PREFLIGHT, "ssh", "hobo",
           "known_hosts holds another key for the servers (host reinstalled, or an impostor)",
           service_target=False),
        # -- cook --------------------------------------------------------------------------------
        _F("cook-fails", COOK, "cook", "hobo",
           "hobo-manage cook exits 1 with an error after creating hobo, deploying nothing",
           service_target=False),
        _F("cook-hangs", COOK, "cook", "hobo",
           "hobo-manage cook never returns (until killed, or down)", service_target=False),
        _F("cook-times-out-waiting", COOK, "cook", "wcs",
           "the service is deployed after cook's --timeout (timeout + late_delay), within the postdeploy "
           "deadline: cook says 'timeout waiting for' and exits 1 while the deployment goes on"),
        _F("cook-ok-service-failed", COOK, "cook", "passerelle",
           "cook takes the service for operational and exits 0, but it is never deployed"),
        # -- after cook --------------------------------------------------------------------------
        _F("deploy-never", POSTDEPLOY, "agent", "passerelle",
           "the agent never deploys the service: no tenant directory, no schema"),
        _F("deploy-late", POSTDEPLOY, "agent", "fargo",
           "the service is deployed late (late_delay, 8 s by default) but within the deadline"),
        _F("deploy-beyond-deadline", POSTDEPLOY, "agent", "portal-agent",
           "the service is deployed after the postdeploy deadline (deadline + 15 s)"),
        _F("deploy-wrong-owner", POSTDEPLOY, "agent", "portal-user",
           "the tenant directory is owned by root instead of the service user"),
        _F("deploy-schema-missing", POSTDEPLOY, "agent", "authentic",
           "the tenant directory is created but not its schema in the service database"),
        _F("wcs-database-missing", POSTDEPLOY, "agent", "wcs",
           "the w.c.s. tenant is deployed without its database: it answers 503"),
        _F("schema-name-differs", POSTDEPLOY, "agent", "authentic",
           "the service's settings map the hostname to another schema (old_<schema>, a TENANT_MAPPING): "
           "its list_tenants reports that name, not the one the Plan derives"),
        _F("wcs-old-location", POSTDEPLOY, "agent", "wcs",
           "the w.c.s. tenant is deployed at w.c.s.'s old location /var/lib/wcs/<host>, which w.c.s. still "
           "serves: postdeploy must accept it there (nothing fails)"),
        _F("wrong-redirect", POSTDEPLOY, "backend", "wcs",
           "the service redirects to the agent portal instead of its expected target"),
        _F("portal-error", POSTDEPLOY, "backend", "portal-user",
           "the portal answers 500 (server error page) instead of its empty-site page"),
        _F("theme-not-applied", POSTDEPLOY, "agent", "portal-agent",
           "the service's hobo.json carries another theme (publik-legacy) than the recipe's set-theme"),
        _F("wcs-site-options-lost", POSTDEPLOY, "agent", "wcs",
           "the w.c.s. tenant's site-options.cfg lacks the skeleton's options (deployed without them)"),
        # -- SAML federation (issue 12) ----------------------------------------------------------
        _F("saml-sp-unknown", POSTDEPLOY, "agent", "passerelle",
           "the service is deployed but never registered with the IdP: authentic answers its unknown-provider "
           "page to the service's authentication request"),
        _F("saml-idp-metadata-race", POSTDEPLOY, "agent", "wcs",
           "authentic's metadata is unreachable while w.c.s. deploys: w.c.s. logs 'failed to get metadata URL', "
           "writes its tenant without an IdP, and its /login/ never reaches authentic"),
        _F("saml-sp-metadata-wrong-host", POSTDEPLOY, "agent", "fargo",
           "the service is deployed with SP metadata naming another host (autre-site.<domain>): entityID, "
           "assertion consumer and logout URLs, and so its authentication requests' Issuer"),
        _F("saml-superuser-password-wrong", POSTDEPLOY, "agent", "authentic",
           "the superuser exists in authentic with another password than the instance's superuser_password: "
           "the IdP refuses the login"),
        # -- pre-existing tenants ----------------------------------------------------------------
        _F("tenants-all-deployed", PREFLIGHT, "tenants", "all",
           "every tenant of the instance already exists before cook (deployed on an earlier run)"),
        _F("tenants-some-deployed", PREFLIGHT, "tenants", "hobo+authentic",
           "some tenants of the instance already exist before cook (a half-done earlier run)"),
        _F("wcs-old-location-leftover", PREFLIGHT, "tenants", "wcs",
           "a w.c.s. tenant of the instance already exists at the old location /var/lib/wcs/<host> "
           "before cook: the clean slate must see it there"),
    )
}


@dataclass(frozen=True)
class ActiveFault:
    """A fault as applied: its resolved target services (hostnames) on one instance."""

    fault: Fault
    target: str
    instance: str
    services: tuple[Service, ...] = ()

    @property
    def name(self) -> str:
        return self.fault.name

    @property
    def hostnames(self) -> list[str]:
        return [s.host for s in self.services]

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.fault.name,
            "phase": self.fault.phase,
            "layer": self.fault.layer,
            "target": self.target,
            "instance": self.instance,
            "hostnames": self.hostnames,
            "kinds": [s.kind for s in self.services],
            "breaks": self.fault.breaks,
        }


def parse_fault(spec: str, instances: list[SandboxInstance]) -> ActiveFault:
    """`NAME[:TARGET[@INSTANCE]]` → ActiveFault, or FaultError saying what is valid."""
    name, _, target = spec.strip().partition(":")
    fault = CATALOGUE.get(name)
    if fault is None:
        raise FaultError(f"unknown fault {name!r} (see `inv sandbox.faults`)")
    target = target or fault.default_target
    target, _, instance_name = target.partition("@")
    by_name = {i.name: i for i in instances}
    instance = by_name.get(instance_name) if instance_name else instances[0]
    if instance is None:
        raise FaultError(f"{spec}: no instance {instance_name!r} (instances: {', '.join(by_name)})")
    if not fault.service_target:
        if target != fault.default_target:
            raise FaultError(f"{spec}: this fault applies to the {fault.default_target!r} server only")
        return ActiveFault(fault, target, instance.name)
    if target == "all":
        return ActiveFault(fault, target, instance.name, instance.services)
    services = []
    for part in target.split("+"):
        service = instance.find(part)
        if service is None:
            known = sorted({n for s in instance.services for n in (s.kind, s.slug)})
            raise FaultError(f"{spec}: no service {part!r} in {instance.name} (use one of {', '.join(known)})")
        services.append(service)
    if fault.name == "db-missing" and any(s.kind == "wcs" for s in services):
        raise FaultError(f"{spec}: w.c.s. has no shared database; use wcs-database-missing")
    if fault.name == "schema-name-differs" and any(s.kind == "wcs" for s in services):
        raise FaultError(f"{spec}: w.c.s. has no schema (one database per tenant); target a Django service")
    if fault.name.startswith("wcs-old-location") and any(s.kind != "wcs" for s in services):
        raise FaultError(f"{spec}: only w.c.s. has an old tenant location; target a w.c.s. service")
    if fault.name == "saml-idp-metadata-race" and any(s.kind != "wcs" for s in services):
        raise FaultError(f"{spec}: only w.c.s. fetches the IdP metadata at deploy; target a w.c.s. service")
    if fault.name == "saml-superuser-password-wrong" and any(s.kind != "authentic" for s in services):
        raise FaultError(f"{spec}: the superuser's password lives in authentic; target the authentic service")
    if fault.name in ("saml-sp-unknown", "saml-sp-metadata-wrong-host") and any(
            s.kind == "authentic" for s in services):
        raise FaultError(f"{spec}: authentic is the IdP, not a service provider; target another service")
    return ActiveFault(fault, target, instance.name, tuple(services))


def parse_faults(specs: list[str], instances: list[SandboxInstance]) -> list[ActiveFault]:
    active = [parse_fault(spec, instances) for spec in specs]
    names = [a.name for a in active]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise FaultError(f"fault given twice: {', '.join(duplicates)}")
    return active


def catalogue_lines() -> list[str]:
    """What `inv sandbox.faults` prints: one fault per line, its name first."""
    return [f.line() for f in CATALOGUE.values()]


def hosts_with(active: list[ActiveFault], name: str) -> set[str]:
    """Hostnames a given fault applies to (empty when the fault is not active)."""
    return {h for a in active if a.name == name for h in a.hostnames}


def is_active(active: list[ActiveFault], name: str) -> bool:
    return any(a.name == name for a in active)
