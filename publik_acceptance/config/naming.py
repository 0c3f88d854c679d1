"""How Publik derives names from a service URL (publik-reference.md §3–4).

These rules are what the services themselves do; they are kept apart from the catalogue so they can
be unit-tested against the examples from Publik's own code.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from urllib.parse import urlsplit

import idna

POSTGRES_MAX_IDENTIFIER = 63
DNS_MAX_NAME = 253
DNS_MAX_LABEL = 63
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\Z")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def hostname(url: str) -> str:
    """The host part of a service URL, lower-cased, without port."""
    host = urlsplit(url).hostname
    if not host:
        raise ValueError(f"no hostname in URL {url!r}")
    return host.lower()


def django_schema_name(host: str) -> str:
    """Schema of a Django multitenant service: the hostname with `.` and `-` turned into `_`.

    Names over 63 characters are shortened like w.c.s. database names (hobo's hostname2schema; this
    is unconfirmed in publik-reference.md, so an environment can name the schema explicitly).
    """
    return normalize_database_name(host.replace(".", "_").replace("-", "_"))


def wcs_instance_path(base_url: str) -> str:
    """w.c.s. tenant key: netloc, plus `+path` with `/` as `+` (w.c.s. drops one trailing slash)."""
    if base_url.endswith("/"):
        base_url = base_url[:-1]
    parsed = urlsplit(base_url)
    path = parsed.netloc
    if parsed.path:
        path += "+" + parsed.path.replace("/", "+")
    return path


def wcs_database_name(base_url: str, template: str | None = "wcs_%s", legacy_database: str = "wcs") -> str:
    """Database w.c.s. creates for a new tenant from the skeleton's `database-template-name`, as
    PostgreSQL names it.

    Without a template, w.c.s. falls back to the legacy rule: the configured `database` name's prefix
    (up to the first `_`) joined to the domain part. Names over 63 characters are shortened to
    29 chars + `_` + 4 hex digits of md5 + `_` + the last 28 chars. w.c.s. then runs
    `CREATE DATABASE <name>` with the name unquoted, so PostgreSQL folds it to lower case: a
    mixed-case URL host or template gives a lower-case database (the MD5 is of the name before folding).
    """
    domain = wcs_instance_path(base_url).replace("-", "_").replace(".", "_").replace("+", "_")
    if template:
        name = template.replace("%s", "%(domain_database_name)s") % {"domain_database_name": domain}
        name = name.strip("_")
    else:
        name = legacy_database
        if domain not in name:
            name = f"{name.split('_')[0]}_{domain}"
    return postgres_folded(normalize_database_name(name))


def postgres_folded(identifier: str) -> str:
    """An unquoted identifier as PostgreSQL stores it: ASCII letters folded to lower case (PostgreSQL
    folds only A-Z in UTF-8 databases; host-derived names are ASCII anyway)."""
    return identifier.translate(_ASCII_LOWER)


def wcs_legacy_tenants_dir(tenants_dir: str) -> str:
    """w.c.s.'s old tenant location: its application directory itself (`/var/lib/wcs/<host>`), the
    parent of `tenants/`. w.c.s. still finds a tenant there (after `tenants/<host>`), and updates it
    in place on a new deployment (wcs/qommon/publisher.py: set_tenant_by_hostname, get_tenants)."""
    return tenants_dir.rstrip("/").rsplit("/", 1)[0] or "/"


def normalize_database_name(name: str) -> str:
    if len(name) > POSTGRES_MAX_IDENTIFIER:
        digest = hashlib.md5(name.encode()).hexdigest()[:4]
        name = f"{name[:29]}_{digest}_{name[-28:]}"
    return name


def hostname_problem(host: str, allow_ip: bool = False) -> str | None:
    """Why `host` is not a DNS host name (letters, digits, hyphens, dots; IDNA accepted), or None.

    Host names flow into shell commands, SQL identifiers and the HTML report: anything else (quotes,
    `$(…)`, markup, control characters) is refused where it is read, not escaped where it is used.
    """
    if allow_ip:
        try:
            ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
            return None
        except ValueError:
            pass
    if not host:
        return "empty host name"
    if any(ord(c) <= 0x20 or 0x7F <= ord(c) <= 0x9F for c in host):
        return f"control character or space in host name {host!r}"
    if host.endswith("."):
        return f"host name {host!r} ends with a dot: write it without"
    try:  # UTS 46 with the STD3 rules: what a resolver accepts, Unicode names in their xn-- form
        ascii_host = idna.encode(host, uts46=True, std3_rules=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        return f"not a valid DNS host name: {host!r} ({exc}; use letters, digits, hyphens and dots)"
    if len(ascii_host) > DNS_MAX_NAME:
        return f"host name longer than {DNS_MAX_NAME} characters: {host!r}"
    for label in ascii_host.split("."):
        if len(label) > DNS_MAX_LABEL:
            return f"label {label!r} of {host!r} is longer than {DNS_MAX_LABEL} characters"
        if not _LDH_LABEL.match(label):
            return f"label {label!r} of {host!r}: use letters, digits and inner hyphens only"
    if ascii_host.rsplit(".", 1)[-1].isdigit():
        return f"{host!r} is neither a host name (all-numeric top-level label) nor " + (
            "an IP address" if allow_ip else "allowed as an IP address here")
    return None
