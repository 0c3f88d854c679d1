"""pytest-xdist (`-n WORKERS`): a large preflight's checks spread over worker processes, the evidence
gathered once.

What is spread is pytest's own work per check (about 1 ms each: 23,000 checks at N = 500 instances),
not the probing: sharding the evidence by instance would multiply SSH connections and remote commands
per server by the number of workers. So the main process (xdist's controller) resolves DNS before the
workers start, hands the answers to them (their test ids hold the addresses: every worker must collect
the same ids), gathers TLS+HTTP, SSH and database facts once as a run without -n does, and writes
them to a private file the workers read (each waits for it, bounded by the run's deadline).

One gate, one report: the workers' reports come back to the main process, which feeds its gate and
writes the HTML/JUnit/JSON files; what the plugins hang on a report (evidence, declared facts) is
carried across. The cook and the postdeploy checks never run under -n: it is refused with one line.
"""

from __future__ import annotations

import base64
import os
import pickle
import shutil
import tempfile
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from publik_acceptance.evidence.preflight import PreflightEvidence
from publik_acceptance.judge.gate import NOT_COLLECTED, SELECTED

DNS_KEY, FILE_KEY = "publik_dns", "publik_evidence"
CARRIED = "publik_carried"  # the serialized report's key for our attributes
POLL = 0.02  # seconds between looks for the evidence file


def distributing(config: pytest.Config) -> bool:
    """This process is pytest-xdist's controller of a distributed run (-n N, N > 0)."""
    return (not hasattr(config, "workerinput") and getattr(config.option, "dist", "no") != "no"
            and not config.option.collectonly)


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def refusal(phases: tuple[str, ...]) -> str | None:
    """Why this distributed run must not start (None: it may): only the preflight is spread."""
    if phases == ("preflight",):
        return None
    return ("-n (pytest-xdist) spreads the preflight checks only: the cook and the postdeploy checks run in one "
            "process, so that one gate decides one cook. Use --phase preflight with -n, or drop -n")


class Controller:
    """The main process of a distributed run: evidence for the workers, the gate's expectations."""

    def __init__(self, config: pytest.Config, evidence: PreflightEvidence) -> None:
        self.config = config
        self.evidence = evidence
        self.folder = Path(tempfile.mkdtemp(prefix="publik-shards-"))  # 0700: only this user reads it
        self.file = self.folder / "evidence.pickle"
        self._dns: bytes | None = None
        self._session: pytest.Session | None = None
        self._expected = False

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._session = session

    def pytest_configure_node(self, node: Any) -> None:
        """Before a worker starts: the DNS answers (resolved once, here) and where the rest will be."""
        if self._dns is None:
            self._dns = pickle.dumps(self.evidence.dns)
            self.evidence.start()
            threading.Thread(target=self._write, name="preflight-shards", daemon=True).start()
        node.workerinput[DNS_KEY] = self._dns
        node.workerinput[FILE_KEY] = str(self.file)

    def _write(self) -> None:
        data: dict[str, tuple[bool, Any]] = {}
        for name in ("servers", "database", "exchanges"):
            try:
                data[name] = (True, getattr(self.evidence, name))
            except Exception as exc:  # the workers' checks raise it, as they would have here
                data[name] = (False, _portable(exc))
        data["accepted_keys"] = (True, dict(self.evidence.pool.accepted_keys))
        try:
            blob = pickle.dumps(data)
        except Exception as exc:  # never leave the workers waiting: they fail their checks with this
            failure = (False, RuntimeError(f"preflight evidence could not be handed to the workers: {exc}"))
            blob = pickle.dumps({"servers": failure, "database": failure, "exchanges": failure,
                                 "accepted_keys": (True, {})})
        partial = self.file.with_suffix(".partial")
        partial.write_bytes(blob)
        os.replace(partial, self.file)  # a worker never reads half a file

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """The gate's expectations, from the first worker's collection (all collect the same ids)."""
        from publik_acceptance.pytest_plugin import _narrowing, preflight_node_ids, run_context

        if self._expected or self._session is None:
            return
        self._expected = True
        selected = set(ids)
        expected = {nodeid: SELECTED if nodeid in selected else NOT_COLLECTED
                    for nodeid in preflight_node_ids(self._session)}
        run_context(self.config).gate.expect(expected, _narrowing(self.config))

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class Worker:
    """A worker process: the controller's evidence instead of its own probing; reports carried back whole."""

    def __init__(self, config: pytest.Config, evidence: PreflightEvidence, deadline: float) -> None:
        workerinput: dict[str, Any] = config.workerinput  # type: ignore[attr-defined]
        self.file = Path(workerinput[FILE_KEY])
        self.deadline = deadline
        self.pool = evidence.pool
        evidence.replicate(pickle.loads(workerinput[DNS_KEY]), self._load)

    def _load(self) -> dict[str, tuple[bool, Any]]:
        limit = time.monotonic() + self.deadline
        while not self.file.exists():
            if time.monotonic() > limit:
                raise TimeoutError(f"no preflight evidence from the main process after {self.deadline:g} s "
                                   f"(run deadline): {self.file} was never written")
            time.sleep(POLL)
        data: dict[str, tuple[bool, Any]] = pickle.loads(self.file.read_bytes())
        self.pool.accepted_keys.update(data.pop("accepted_keys")[1])
        return data

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        from publik_acceptance.report.declared import check_declaration  # the report layer imports the front door

        for item in items:  # as the report plugin does in a run without -n: a wrong mark stops the run
            check_declaration(item)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[
            None, pytest.TestReport, pytest.TestReport]:
        # The report plugin sets this in the main process of a run without -n; here it has no item.
        from publik_acceptance.report.declared import declared
        from publik_acceptance.report.outcomes import DECLARED

        report = yield
        setattr(report, DECLARED, declared(item))
        return report


def _portable(exc: Exception) -> Exception:
    """The exception itself if it survives pickling, else a RuntimeError with its message."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(str(exc))
    return exc


def _ours(report: Any) -> dict[str, Any]:
    return {name: value for name, value in vars(report).items() if name.startswith("publik_")}


class Send:
    """In a worker: our attributes of a report (evidence, declared facts: dataclasses) go across pickled,
    as execnet carries only plain values. Worker and main process are the same user's processes of the
    same run; the main process redacts the report as soon as it has it, before anything shows it."""

    @pytest.hookimpl(wrapper=True)
    def pytest_report_to_serializable(self, config: pytest.Config, report: Any) -> Generator[None, Any, Any]:
        ours = _ours(report)
        for name in ours:
            delattr(report, name)
        try:
            data = yield
        finally:
            for name, value in ours.items():
                setattr(report, name, value)
        if ours and isinstance(data, dict):
            data[CARRIED] = base64.b64encode(pickle.dumps(ours)).decode("ascii")
        return data


class Receive:
    """In the main process: the worker's attributes back on the report it rebuilds."""

    @pytest.hookimpl(wrapper=True)
    def pytest_report_from_serializable(self, config: pytest.Config, data: dict[str, Any]) -> Generator[
            None, Any, Any]:
        carried = data.pop(CARRIED, None)
        report = yield
        if carried is not None and report is not None:
            for name, value in pickle.loads(base64.b64decode(carried)).items():
                setattr(report, name, value)
        return report


def register(config: pytest.Config, evidence: PreflightEvidence, phases: tuple[str, ...],
             deadline: float) -> None:
    """Called by the front door's pytest_configure when pytest-xdist is loaded."""
    manager = config.pluginmanager
    if distributing(config):
        problem = refusal(phases)
        if problem is not None:
            raise pytest.UsageError(problem)
        manager.register(Controller(config, evidence), "publik-shards-controller")
        manager.register(Receive(), "publik-shards-receive")
    elif is_worker(config):
        manager.register(Worker(config, evidence, deadline), "publik-shards-worker")
        manager.register(Send(), "publik-shards-send")
