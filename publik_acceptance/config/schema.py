"""A small typed reader for YAML/JSON mappings that reports file and key path on every error, and the
declaration of environment-file keys on dataclass fields (doc(), Section) that the reader and the README share."""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping, Set
from dataclasses import MISSING, Field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal, overload

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
    """A value read from a configuration file, with the path that led to it.

    Its readers are named after the type they return (str, bool, int, list): inside the class, annotations
    name the builtins as `builtins.str` and so on, since the bare names are these methods."""

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
    def mapping(self, allowed: Set[str] | None = None, required: Set[str] = frozenset()) -> Node:
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
    @overload
    def str(self, allow_empty: bool = False, nullable: Literal[False] = False) -> str: ...

    @overload
    def str(self, allow_empty: bool = False, *, nullable: bool) -> str | None: ...

    def str(self, allow_empty: bool = False, nullable: bool = False) -> str | None:
        if self.value is None and nullable:
            return None
        if not isinstance(self.value, str):
            raise self.error(f"expected a string, got {_type_name(self.value)}")
        if not allow_empty and not self.value.strip():
            raise self.error("must not be empty")
        return self.value

    def command(self) -> builtins.str:
        """A command line the operator writes (run on a server as written): one line, no control characters,
        since a newline would start a second command."""
        text = self.str()
        if any(ord(c) < 32 or ord(c) == 127 for c in text):
            raise self.error("a command line must not contain control characters (a newline starts another command)")
        return text

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

    def choice(self, choices: tuple[builtins.str, ...]) -> builtins.str:
        value = self.str()
        if value not in choices:
            raise self.error(f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def str_list(self) -> tuple[builtins.str, ...]:
        return tuple(node.str() for node in self.list())

    @overload
    def local_path(self, base: Path, must_exist: builtins.bool = False, nullable: Literal[False] = False) -> Path: ...

    @overload
    def local_path(self, base: Path, must_exist: builtins.bool = False, *, nullable: builtins.bool) -> Path | None: ...

    def local_path(self, base: Path, must_exist: builtins.bool = False,
                   nullable: builtins.bool = False) -> Path | None:
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


# -- declared keys --------------------------------------------------------------------------------
# Each environment-file key is declared once, on the dataclass field that holds its value: the type is
# the annotation, the default the field's default, and doc() metadata carries the README comment and example.
# The loader takes allowed keys, required keys and defaults from there (Section), and
# config/reference.py writes the README's reference block from there, so neither can drift.


def doc(
    text: str = "",
    *,
    example: str | tuple[tuple[str, str], ...] | None = None,
    example_key: str | None = None,
    key: str | None = None,
    optional: bool = False,
) -> dict[str, Any]:
    """The metadata that makes a dataclass field an environment-file key: `field(default=…, metadata=doc(…))`.

    text: the README comment (a newline starts a continuation comment line). example: raw YAML shown in
    the README instead of the default (or, as (yaml, comment) pairs, the lines of a mapping). example_key:
    the sample name under which a mapping of sections is shown. key: the YAML key path when it differs
    from the field name (`paths.root`). optional: the key may be absent although the field has no
    static default (the loader derives the value).
    """
    return {"key": key, "doc": text, "example": example, "example_key": example_key, "optional": optional}


def declared(cls: type) -> list[Field[Any]]:
    """The fields of a settings dataclass that are environment-file keys, in declaration order."""
    return [f for f in fields(cls) if "key" in f.metadata]


def key_of(f: Field[Any]) -> str:
    return f.metadata["key"] or f.name


def has_default(f: Field[Any]) -> bool:
    return f.default is not MISSING or f.default_factory is not MISSING


def default_of(cls: type, name: str) -> Any:
    """The declared default of a field (a fresh value for factory defaults)."""
    f = next(f for f in fields(cls) if f.name == name)
    if f.default_factory is not MISSING:
        return f.default_factory()
    if f.default is MISSING:
        raise KeyError(f"{cls.__name__}.{name} has no default")
    return f.default


def _yaml_default(value: Any) -> Any:
    """An absent key read as the YAML that would mean its default: a nested section as an empty mapping
    (its own declarations give its defaults), a tuple as a list."""
    if is_dataclass(value):
        return {}
    if isinstance(value, tuple):
        return list(value)
    return value


class Section:
    """A mapping read against a settings dataclass: allowed keys, required keys and the defaults of
    absent keys are the ones its fields declare."""

    def __init__(self, node: Node, cls: type) -> None:
        own = declared(cls)
        self._fields = {key_of(f): f for f in own}
        required = {key_of(f) for f in own if not has_default(f) and not f.metadata["optional"]}
        self.node = node.mapping(allowed={key.split(".")[0] for key in self._fields}, required=required)
        self.cls = cls

    def get(self, key: str) -> Node:
        f = self._fields[key]
        if "." in key:
            parent, _, child = key.partition(".")
            return self.node.get(parent, {}).mapping(allowed=self._children(parent)).get(
                child, _yaml_default(default_of(self.cls, f.name)))
        if not has_default(f):
            return self.node.get(key)
        return self.node.get(key, _yaml_default(default_of(self.cls, f.name)))

    def _children(self, parent: str) -> set[str]:
        return {key.partition(".")[2] for key in self._fields if key.startswith(parent + ".")}

    def has(self, key: str) -> bool:
        return self.node.has(key)

    def error(self, message: str, key: str | None = None) -> ConfigError:
        return self.node.error(message, key)
