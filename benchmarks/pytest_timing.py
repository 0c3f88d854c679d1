"""A pytest plugin for the benchmark: how long the run waited on evidence, and where the rest went.

Loaded with `-p benchmarks.pytest_timing` (cwd: the repository). The time pytest's main thread spends
blocked on evidence (DNS at collection, then the preflight categories) is network work; the rest
of the wall time is pytest's own overhead (start-up, collection, running the assertions, reporting).
Results go to the JSON file named by $PUBLIK_BENCH_TIMING.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from publik_acceptance.evidence.preflight import PreflightEvidence

_MAIN = threading.main_thread()
_times: dict[str, float] = {"blocked_on_evidence": 0.0}
_marks: dict[str, float] = {"plugin_loaded": time.monotonic()}


def _timed(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is not _MAIN:
            return fn(*args, **kwargs)
        started = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            _times["blocked_on_evidence"] += time.monotonic() - started

    return wrapper


# DNS: the main thread reads `dns` at collection (resolved there, or in the front door's background thread).
PreflightEvidence.dns = property(_timed(PreflightEvidence.dns.fget))  # type: ignore[method-assign,arg-type]
PreflightEvidence._gathered = _timed(PreflightEvidence._gathered)  # type: ignore[method-assign]


def pytest_collection(session: pytest.Session) -> None:
    _marks["collection_start"] = time.monotonic()


def pytest_collection_finish(session: pytest.Session) -> None:
    _marks["collection_end"] = time.monotonic()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    _marks["tests_end"] = time.monotonic()


def pytest_unconfigure(config: pytest.Config) -> None:
    _marks["end"] = time.monotonic()
    path = os.environ.get("PUBLIK_BENCH_TIMING")
    if not path or hasattr(config, "workerinput"):  # -n: the main process's view is the operator's
        return
    marks = _marks
    # With -n the main process collects nothing (its workers do): its checks start after start-up.
    collected = marks.get("collection_end", marks.get("collection_start", marks["plugin_loaded"]))
    out = {
        "blocked_on_evidence": _times["blocked_on_evidence"],
        "collection": collected - marks.get("collection_start", collected),
        "tests": marks.get("tests_end", collected) - collected,
        "reporting": marks["end"] - marks.get("tests_end", marks["end"]),
        "plugin_to_end": marks["end"] - marks["plugin_loaded"],
    }
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(out, fh)
