"""Evidence attached to the running test, for the report: what each assertion was based on.

Checks call `record(kind, title, data)`; the pytest plugin starts a fresh log before each test and
moves it onto the test's report (`report.publik_evidence`) afterwards. Data is made JSON-friendly
(dataclasses, datetimes, paths, enums) and redacted when it is rendered.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import threading
from pathlib import Path
from typing import Any

_local = threading.local()


@dataclasses.dataclass(frozen=True)
class Evidence:
    kind: str  # dns, tls, http, remote, database, wait, cook, skeleton, recipe, text
    title: str
    data: Any


def start() -> None:
    _local.items = []


def record(kind: str, title: str, data: Any) -> None:
    items = getattr(_local, "items", None)
    if items is not None:
        items.append(Evidence(kind, title, plain(data)))


def collect() -> list[Evidence]:
    items = getattr(_local, "items", None) or []
    _local.items = None
    return items


_FIELDS: dict[type, tuple[str, ...]] = {}  # a dataclass's field names, looked up once per class


def plain(value: Any) -> Any:
    """A JSON-friendly copy: dataclasses as dicts, datetimes as ISO strings, bytes as their size."""
    if value is None or type(value) in (str, int, float, bool):  # most leaves: nothing to convert
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELDS.get(type(value))
        if names is None:
            names = _FIELDS[type(value)] = tuple(f.name for f in dataclasses.fields(value))
        return {name: plain(getattr(value, name)) for name in names}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value
