"""A small typed reader for YAML/JSON mappings that reports file and key path on every error."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from publik_acceptance.config.errors import ConfigError

_MISSING: Any = object()


def _type_name(value: object) -> str:
    return {
        dict: "mapping",
        list: "list",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


class Node:
    """A value read from a configuration file, with the path that led to it."""

    def __init__(self, value: Any, file: Path, path: str = "") -> None:
        self.value = value
        self.file = file
        self.path = path

    def error(self, message: str, key: str | None = None) -> ConfigError:
        return ConfigError(self.file, self._join(key) if key is not None else self.path, message)

    def _join(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    # -- containers -------------------------------------------------------------------------------
    def mapping(self, allowed: set[str] | None = None, required: set[str] = frozenset()) -> Node:
        if self.value is None:
            self.value = {}
        if not isinstance(self.value, Mapping):
            raise self.error(f"expected a mapping, got {_type_name(self.value)}")
        for key in self.value:
            if not isinstance(key, str):
                raise self.error(f"keys must be strings, got {key!r}")
            if allowed is not None and key not in allowed:
                raise self.error(f"unknown key (allowed: {', '.join(sorted(allowed))})", key)
        for key in sorted(required):
            if key not in self.value:
                raise self.error("required key is missing", key)
        return self

    def get(self, key: str, default: Any = _MISSING) -> Node:
        if not isinstance(self.value, Mapping):
            raise self.error(f"expected a mapping, got {_type_name(self.value)}")
        if key not in self.value:
            if default is _MISSING:
                raise self.error("required key is missing", key)
            return Node(default, self.file, self._join(key))
        return Node(self.value[key], self.file, self._join(key))

    def has(self, key: str) -> bool:
        return isinstance(self.value, Mapping) and key in self.value

    def items(self) -> Iterator[tuple[str, Node]]:
        for key, value in self.mapping().value.items():
            yield key, Node(value, self.file, self._join(key))

    def list(self, allow_empty: bool = True) -> list[Node]:
        if self.value is None:
            self.value = []
        if not isinstance(self.value, list):
            raise self.error(f"expected a list, got {_type_name(self.value)}")
        if not allow_empty and not self.value:
            raise self.error("must not be empty")
        return [Node(v, self.file, self._join(i)) for i, v in enumerate(self.value)]

    # -- scalars ----------------------------------------------------------------------------------
    def str(self, allow_empty: bool = False, nullable: bool = False) -> Any:
        if self.value is None and nullable:
            return None
        if not isinstance(self.value, str):
            raise self.error(f"expected a string, got {_type_name(self.value)}")
        if not allow_empty and not self.value.strip():
            raise self.error("must not be empty")
        return self.value

    def bool(self) -> bool:
        if not isinstance(self.value, bool):
            raise self.error(f"expected true or false, got {_type_name(self.value)}")
        return self.value

    def int(self, minimum: int | None = None, maximum: int | None = None) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.error(f"expected an integer, got {_type_name(self.value)}")
        self._bounds(self.value, minimum, maximum)
        return self.value

    def number(self, minimum: float | None = None, maximum: float | None = None) -> float:
        if isinstance(self.value, bool) or not isinstance(self.value, int | float):
            raise self.error(f"expected a number, got {_type_name(self.value)}")
        self._bounds(self.value, minimum, maximum)
        return float(self.value)

    def _bounds(self, value: float, minimum: float | None, maximum: float | None) -> None:
        if minimum is not None and value < minimum:
            raise self.error(f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(f"must be at most {maximum}, got {value}")

    def choice(self, choices: tuple[str, ...]) -> str:
        value = self.str()
        if value not in choices:
            raise self.error(f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def str_list(self) -> tuple[str, ...]:
        return tuple(node.str() for node in self.list())

    def local_path(self, base: Path, must_exist: bool = False, nullable: bool = False) -> Path | None:
        """A local path; relative paths are taken from the directory of the file that names them."""
        raw = self.str(nullable=nullable)
        if raw is None:
            return None
        path = Path(raw).expanduser()
        if not path.is_absolute():
            path = (base / path).resolve()
        if must_exist and not path.exists():
            raise self.error(f"file not found: {path}")
        return path
