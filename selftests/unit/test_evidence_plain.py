"""Evidence is made JSON-friendly the same way for every kind of value (the fast paths change nothing)."""

from __future__ import annotations

import datetime as dt
import enum
import json
from dataclasses import dataclass
from pathlib import Path

from publik_acceptance.evidence.log import plain


class Kind(enum.StrEnum):
    PAGE = "page"


class Level(enum.Enum):
    HIGH = 3


@dataclass(frozen=True)
class Inner:
    when: dt.datetime
    where: Path


@dataclass(frozen=True)
class Outer:
    name: str
    kind: Kind
    level: Level
    inner: Inner
    tags: frozenset[str]
    body: bytes
    counts: dict[int, tuple[int, ...]]
    ratio: float = 0.5
    ok: bool = True
    missing: None = None


def test_every_kind_of_value_becomes_json() -> None:
    when = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
    value = Outer("combo", Kind.PAGE, Level.HIGH, Inner(when, Path("/var/lib/combo")), frozenset({"b", "a"}),
                  b"x" * 12, {1: (2, 3)})
    expected = {"name": "combo", "kind": "page", "level": 3,
                "inner": {"when": "2026-11-30T12:00:00+00:00", "where": "/var/lib/combo"},
                "tags": ["a", "b"], "body": "<12 bytes>", "counts": {"1": [2, 3]},
                "ratio": 0.5, "ok": True, "missing": None}
    assert plain(value) == expected
    assert plain([value, value]) == [expected, expected]  # a class's fields are looked up once, used again
    json.dumps(plain(value))
