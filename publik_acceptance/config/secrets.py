"""Secrets: referenced in configuration, resolved late, registered once and redacted everywhere.

A secret never appears literally in an environment file: it is `{env: NAME}` or `{file: PATH}`.
Every value resolved through here is added to the process-wide registry, and `redact()` replaces
each registered value by `***` in any text the suite writes (reports, logs, exceptions) — in every
spelling it can take on the way: JSON (as written into the uploaded recipe), Python and bytes reprs
(exceptions, logs), URL encoding, base64, and each of these HTML/XML-escaped. The spellings are
computed once, when the secret is registered.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, overload
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape as xml_escape

from publik_acceptance.config.errors import ConfigError
from publik_acceptance.config.schema import Node

MASK = "***"
# A secret we resolve must be long enough to be masked without masking ordinary words with it.
MIN_SECRET_LENGTH = 8
# Values others register (passwords read from a server) cannot be refused; below this, masking
# would garble every output, so they are not registered (add() says so).
_MIN_MASKABLE = 4
# Inside longer base64 text, a secret only shows as the characters its own bytes fully determine.
_MIN_BASE64_CORE = 12


def _python_inner(text: str, quote_char: str, ascii_only: bool) -> str:
    """What repr()/ascii() write between the quotes, when `quote_char` is the quote they chose
    (it depends on the whole string the secret is part of, so both are spelled)."""
    parts = []
    for char in text:
        if char == quote_char:
            parts.append("\\" + char)
        elif char in "'\"":
            parts.append(char)
        else:
            parts.append((ascii(char) if ascii_only else repr(char))[1:-1])
    return "".join(parts)


def _bytes_inner(raw: bytes, quote_char: str) -> str:
    """What repr(bytes) writes between b'…': the UTF-8 bytes, non-ASCII as \\xNN."""
    parts = []
    for byte in raw:
        char = chr(byte)
        if char == quote_char:
            parts.append("\\" + char)
        elif char in "'\"":
            parts.append(char)
        else:
            parts.append(repr(bytes([byte]))[2:-1])
    return "".join(parts)


def _base64_forms(raw: bytes) -> set[str]:
    """The secret in base64 (data: URIs, Basic auth, tokens): whole, and the core it leaves inside
    longer base64 text at each of the three alignments; standard and URL-safe alphabets."""
    forms = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        start = (shift * 4 + 2) // 3 + (1 if shift else 0)  # chars touched by the padding prefix
        full = (shift + len(raw)) // 3 * 4  # chars of complete groups only
        core = encoded[start:full]
        if len(core) >= _MIN_BASE64_CORE:
            forms |= {core, core.replace("+", "-").replace("/", "_")}
    return forms


def _jinja_escape(text: str) -> str:
    """markupsafe's spelling (pytest-html's template), which differs from html.escape for quotes."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("'", "&#39;").replace('"', "&#34;"))


def _form_urlencoded(secret: str) -> str:
    """The secret as a browser sends it in a form's POST body (application/x-www-form-urlencoded, WHATWG URL
    standard): it keeps `*` and encodes `~`, where Python's quote_plus does the reverse; a login form sends
    the password this way."""
    return "".join(chr(b) if chr(b).isascii() and (chr(b).isalnum() or chr(b) in "*-._") else
                   "+" if b == 0x20 else f"%{b:02X}" for b in secret.encode("utf-8"))


def _text_forms(secret: str) -> set[str]:
    raw = secret.encode("utf-8")
    url = {quote(secret, safe=""), quote(secret), quote_plus(secret), _form_urlencoded(secret)}
    url |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), u) for u in url}  # lower-case hex encoders
    json_forms = {json.dumps(secret, ensure_ascii=False)[1:-1], json.dumps(secret)[1:-1]}
    forms = {secret, *url, *json_forms}
    forms |= {json.dumps(f)[1:-1] for f in json_forms}  # JSON inside JSON (a logged request body)
    forms |= {_python_inner(secret, q, a) for q in "'\"" for a in (False, True)}
    forms |= {_bytes_inner(raw, q) for q in "'\""}
    return forms


def encoded_forms(secret: str) -> frozenset[str]:
    """Every spelling of `secret` an output can carry, markup-escaped ones included."""
    forms = _text_forms(secret)
    escapes = (html.escape, _jinja_escape, xml_escape, lambda t: html.escape(t, quote=False))
    forms |= {escape(form) for escape in escapes for form in set(forms)}
    forms |= _base64_forms(secret.encode("utf-8"))
    return frozenset(f for f in forms if f)


@dataclass(frozen=True)
class SecretRef:
    """Where a secret comes from; the value itself is never stored in configuration objects."""

    source: str  # "env" or "file"
    name: str
    origin: str  # "<file>: <key>" for error messages

    def describe(self) -> str:
        return f"${self.name}" if self.source == "env" else f"file {self.name}"

    @property
    def key(self) -> str:
        """The environment file's key naming this secret (`wcs.skeleton.createdb.password`)."""
        return self.origin.rsplit(": ", 1)[-1]

    def resolve(self) -> str:
        """The secret's value, registered for redaction; ConfigError when it is unset or empty."""
        if self.source == "env":
            value = os.environ.get(self.name)
            if value is None:
                raise ConfigError(self.origin, "", f"environment variable {self.name} is not set")
        else:
            try:
                value = Path(self.name).read_text(encoding="utf-8").rstrip("\n")
            except OSError as exc:
                reason = f"cannot read secret file {self.name}: {exc.strerror}"
                raise ConfigError(self.origin, "", reason) from None
        if not value.strip():
            raise ConfigError(self.origin, "", f"secret from {self.describe()} is empty")
        if len(value) < MIN_SECRET_LENGTH:
            raise ConfigError(self.origin, "", f"secret from {self.describe()} is shorter than {MIN_SECRET_LENGTH} "
                                               "characters: too short to be masked in reports")
        REGISTRY.add(value)
        return value

    def is_available(self) -> bool:
        try:
            self.resolve()
        except ConfigError:
            return False
        return True


@overload
def read_secret_ref(node: Node, base: Path, nullable: Literal[False] = False) -> SecretRef: ...


@overload
def read_secret_ref(node: Node, base: Path, nullable: bool) -> SecretRef | None: ...


def read_secret_ref(node: Node, base: Path, nullable: bool = False) -> SecretRef | None:
    """Parse `{env: NAME}` / `{file: PATH}`; a literal string is refused."""
    if node.value is None and nullable:
        return None
    if isinstance(node.value, str):
        raise node.error("literal secrets are not allowed; use {env: NAME} or {file: PATH}")
    node.mapping(allowed={"env", "file"})
    if len(node.value) != 1:
        raise node.error("give exactly one of env or file")
    (source, _raw), = node.value.items()
    name = node.get(source).str()
    if source == "file":
        path = Path(name).expanduser()
        name = str(path if path.is_absolute() else (base / path).resolve())
    return SecretRef(source, name, f"{node.file}: {node.path}")


class SecretRegistry:
    """The secret values known to this process, each with its spellings (computed once, on add)."""

    def __init__(self) -> None:
        self._forms: dict[str, frozenset[str]] = {}
        self._masked: tuple[str, ...] = ()  # every spelling of every secret, longest first
        self._lock = threading.Lock()

    def add(self, value: str | None) -> bool:
        """Register a value for redaction; False when it is too short to be masked (not registered)."""
        if not value or len(value) < _MIN_MASKABLE:
            return False
        with self._lock:
            if value not in self._forms:
                self._forms[value] = encoded_forms(value)
                spellings = {f for forms in self._forms.values() for f in forms}
                # Longest first: a spelling containing a shorter one is masked whole.
                self._masked = tuple(sorted(spellings, key=len, reverse=True))
        return True

    def values(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(sorted(self._forms, key=len, reverse=True))

    def forms(self, value: str) -> frozenset[str]:
        """The spellings of a value, registered or not."""
        with self._lock:
            known = self._forms.get(value)
        return known if known is not None else encoded_forms(value)

    def redact(self, text: str) -> str:
        for form in self._masked:  # a snapshot: add() replaces the tuple, never mutates it
            if form in text:
                text = text.replace(form, MASK)
        return text


REGISTRY = SecretRegistry()


def redact(text: str) -> str:
    return REGISTRY.redact(text)


def secret_refs(value: object, seen: set[int] | None = None) -> Iterator[SecretRef]:
    """Every SecretRef held anywhere in a configuration object (dataclasses, mappings, sequences)."""
    seen = seen if seen is not None else set()
    if id(value) in seen or value is None or isinstance(value, str | int | float | bool | Path):
        return
    seen.add(id(value))
    if isinstance(value, SecretRef):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from secret_refs(item, seen)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from secret_refs(item, seen)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            yield from secret_refs(getattr(value, name), seen)


@dataclass(frozen=True)
class SecretProblem:
    """A secret the environment names that cannot be had: said the same way by every command."""

    ref: SecretRef
    problem: str  # e.g. "environment variable PUBLIK_X is not set"

    @property
    def todo(self) -> str:
        if self.ref.source == "env":
            return f"set {self.ref.describe()} before the run"
        return f"create {self.ref.name}, readable by you only"

    def line(self) -> str:
        return f"{self.ref.origin}: {self.problem}; to do: {self.todo}"


def secret_problem(ref: SecretRef) -> SecretProblem | None:
    """None when the secret resolves (it is then registered for redaction); otherwise what is wrong."""
    try:
        ref.resolve()
    except ConfigError as exc:
        return SecretProblem(ref, str(exc).removeprefix(f"{ref.origin}: ").strip(": "))
    return None
