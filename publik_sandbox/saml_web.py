"""HTTP plumbing of the sandbox's SAML views: the request as they see it, their answer, cookies,
sessions and the short-lived pending values (SSO requests waiting for a login, RelayStates).

The backends decode a request once into a `Web`; saml_idp and saml_sp answer a `Reply`. Sessions
live in the backends' memory: a sandbox lives as long as its `up`.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Web:
    """One request to a deployed tenant, decoded once by the backends."""

    kind: str
    host: str
    path: str
    query: str  # raw query string (lasso verifies the Redirect binding's signature over it)
    method: str
    cookies: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]  # lower-case names
    tenant: Path
    hobo: dict

    def param(self, name: str, default: str = "") -> str:
        values = parse_qs(self.query, keep_blank_values=True).get(name)
        return values[0] if values else default

    def field(self, name: str, default: str = "") -> str:
        return self.form.get(name, default)


@dataclass
class Reply:
    status: int
    body: str = ""
    ctype: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = dataclass_field(default_factory=list)

    @classmethod
    def redirect(cls, location: str, status: int = 302, cookies: list[str] | None = None) -> Reply:
        return cls(status, "", headers=[("Location", location), *(("Set-Cookie", c) for c in cookies or [])])


def parse_cookies(header: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header or "")
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def session_cookie(name: str, value: str) -> str:
    return f"{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax"


def expired_cookie(name: str) -> str:
    return f"{name}=; Path=/; Secure; HttpOnly; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"


def safe_next(value: str, host: str, default: str = "/") -> str:
    """A redirect target on this host only (a path, or an absolute https URL naming `host`)."""
    if value.startswith("/") and not value.startswith("//"):
        return value
    parts = urlsplit(value)
    if parts.scheme == "https" and (parts.hostname or "") == host:
        return value
    return default


class Sessions:
    """Session id → data, per host, in the backends' memory (a sandbox lives as long as its `up`)."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], dict] = {}
        self._lock = threading.Lock()

    def get(self, host: str, sid: str | None) -> dict | None:
        if not sid:
            return None
        with self._lock:
            return self._data.get((host, sid))

    def new(self, host: str, data: dict) -> str:
        sid = secrets.token_urlsafe(24)
        with self._lock:
            self._data[(host, sid)] = data
        return sid

    def drop(self, host: str, sid: str | None) -> dict | None:
        with self._lock:
            return self._data.pop((host, sid or ""), None)


class Pending:
    """Short-lived values (pending SSO requests, RelayStates), oldest dropped first: a poller that stops at
    the login page never comes back for its entry, so the store is bounded in age and size, O(1) a call."""

    def __init__(self, ttl: float = 1800.0, size: int = 20_000) -> None:
        self.ttl, self.size = ttl, size
        self._items: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: str, value: Any) -> None:
        now = time.monotonic()
        with self._lock:
            self._items[key] = (now, value)
            self._items.move_to_end(key)
            while self._items:
                oldest, (when, _) = next(iter(self._items.items()))
                if len(self._items) <= self.size and now - when <= self.ttl:
                    break
                del self._items[oldest]

    def get(self, key: str) -> Any | None:
        with self._lock:
            item = self._items.get(key)
        return item[1] if item and time.monotonic() - item[0] <= self.ttl else None

    def pop(self, key: str) -> Any | None:
        with self._lock:
            item = self._items.pop(key, None)
        return item[1] if item and time.monotonic() - item[0] <= self.ttl else None
