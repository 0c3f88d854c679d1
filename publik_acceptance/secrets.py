"""Secrets: referenced in configuration, resolved late, registered once and redacted everywhere.

A secret never appears literally in an environment file: it is `{env: NAME}` or `{file: PATH}`.
Every value resolved through here is added to the process-wide registry, and `redact()` replaces
each registered value by `***` in any text the suite writes (reports, logs, exceptions).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .schema import Node

MASK = "***"
_MIN_SECRET_LENGTH = 4


@dataclass(frozen=True)
class SecretRef:
    """Where a secret comes from; the value itself is never stored in configuration objects."""

    source: str  # "env" or "file"
    name: str
    origin: str  # "<file>: <key>" for error messages

    def describe(self) -> str:
        return f"${self.name}" if self.source == "env" else f"file {self.name}"

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
        REGISTRY.add(value)
        return value

    def is_available(self) -> bool:
        try:
            self.resolve()
        except ConfigError:
            return False
        return True


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
    """The set of secret values known to this process."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, value: str | None) -> None:
        if value and len(value) >= _MIN_SECRET_LENGTH:
            with self._lock:
                self._values.add(value)

    def values(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(sorted(self._values, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for value in self.values():
            if value in text:
                text = text.replace(value, MASK)
        return text

    def find_leaks(self, text: str) -> list[str]:
        """Registered values present in text (returned masked, so the result itself is safe)."""
        return [f"{v[:1]}…({len(v)} chars)" for v in self.values() if v in text]


REGISTRY = SecretRegistry()


def redact(text: str) -> str:
    return REGISTRY.redact(text)
