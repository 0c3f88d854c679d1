"""How Publik derives names from a service URL (publik-reference.md §3–4).

These rules are what the services themselves do; they are kept apart from the catalogue so they can
be unit-tested against the examples from Publik's own code.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

POSTGRES_MAX_IDENTIFIER = 63


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
    """Database w.c.s. creates for a new tenant from the skeleton's `database-template-name`.

    Without a template, w.c.s. falls back to the legacy rule: the configured `database` name's prefix
    (up to the first `_`) joined to the domain part. Names over 63 characters are shortened to
    29 chars + `_` + 4 hex digits of md5 + `_` + the last 28 chars.
    """
    domain = wcs_instance_path(base_url).replace("-", "_").replace(".", "_").replace("+", "_")
    if template:
        name = template.replace("%s", "%(domain_database_name)s") % {"domain_database_name": domain}
        name = name.strip("_")
    else:
        name = legacy_database
        if domain not in name:
            name = f"{name.split('_')[0]}_{domain}"
    return normalize_database_name(name)


def normalize_database_name(name: str) -> str:
    if len(name) > POSTGRES_MAX_IDENTIFIER:
        digest = hashlib.md5(name.encode()).hexdigest()[:4]
        name = f"{name[:29]}_{digest}_{name[-28:]}"
    return name
