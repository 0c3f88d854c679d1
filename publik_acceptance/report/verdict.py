"""The run's verdict, first thing in every output: gate, cook, postdeploy, counts, one headline."""

from __future__ import annotations

from dataclasses import dataclass, field

from publik_acceptance.deploy.result import COOKED, TIMED_OUT_WAITING, CookResult
from publik_acceptance.judge.gate import Gate
from publik_acceptance.report.outcomes import Results


@dataclass(frozen=True)
class RunVerdict:
    gate: str  # "open" / "closed"
    gate_detail: str  # e.g. "12 preflight checks passed" or "no preflight check ran"
    blocking: tuple[tuple[str, str, str], ...]  # (test, outcome, reason) that closed the gate
    waived: tuple[tuple[str, str], ...]  # (test, waiver reason)
    cook: str  # "ran" / "timed out waiting" / "not run" / "failed" / "dry-run" / "interrupted"
    cook_exit: int | None
    cook_duration: float | None
    cook_message: str
    postdeploy: str  # "passed" / "failed" / "not run"
    counts: dict[str, int]
    phase_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    not_run: tuple[tuple[str, str], ...] = ()  # (test, why) preflight checks the Plan calls for that did not run
    host_keys: tuple[str, ...] = ()  # SSH host keys trusted on first use: "hobo 127.0.0.15:22 ssh-ed25519 SHA256:…"
    interrupted: bool = False  # Ctrl-C or SIGTERM ended the run before its end: what follows is partial
    already_deployed: bool = False  # every planned tenant existed before the cook: the clean-slate check failed on all

    @property
    def ok(self) -> bool:
        return self.counts.get("failed", 0) == 0 and self.counts.get("error", 0) == 0

    def steps(self, phases: tuple[str, ...]) -> str:
        """The selected phases' outcomes in a few words: "gate open, cook ran, postdeploy passed"."""
        parts = [f"gate {self.gate}" if "preflight" in phases else "",
                 f"cook {self.cook}" if "deploy" in phases else "",
                 f"postdeploy {self.postdeploy}" if "postdeploy" in phases else ""]
        return ", ".join(p for p in parts if p)

    def headline(self, phases: tuple[str, ...]) -> tuple[str, str]:
        """(tone, sentence): tone is good, bad or warn; the sentence says what the reviewer should retain."""
        if self.interrupted:
            _, state = self._headline(phases)
            return ("bad", f"Interrupted (Ctrl-C or SIGTERM) before the end: {state[0].lower()}{state[1:]}")
        return self._headline(phases)

    def _headline(self, phases: tuple[str, ...]) -> tuple[str, str]:
        if self.already_deployed and self.gate == "closed" and "preflight" in phases:
            # Nothing is broken and nothing was done: the platform is deployed, not this run's to cook.
            return ("warn", "Already deployed: every tenant exists already"
                    + (", nothing was cooked" if "deploy" in phases else "") + "; check it with --phase postdeploy")
        if "deploy" in phases:
            if self.gate == "closed":
                return ("bad", "Not deployed: the preflight gate is closed")
            if self.cook == "failed":
                return ("bad", "Cook failed")
            if self.cook == "dry-run":
                return ("warn", "Dry run: gate open, nothing was cooked")
            if self.cook not in COOKED:
                return ("bad", f"Not deployed: the cook {self.cook}")
            # Cook's exit is not the verdict: after a wait cook gave up, postdeploy decides, and says so.
            waited = (f": cook {TIMED_OUT_WAITING}; postdeploy {self.postdeploy}"
                      if self.cook == TIMED_OUT_WAITING else "")
            if "postdeploy" in phases:
                if self.postdeploy == "passed":
                    return ("good", "Deployed and verified" + waited)
                if self.postdeploy == "failed":
                    return ("bad", "Deployed, but the postdeploy checks failed" + waited)
                return ("warn", "Deployed, not verified (postdeploy not run)" + waited)
            return ("warn" if waited else "good", "Deployed (postdeploy not selected)"
                    + (f": cook {TIMED_OUT_WAITING}, run the postdeploy phase" if waited else ""))
        if phases == ("postdeploy",):
            return {"passed": ("good", "Deployment verified"), "failed": ("bad", "Deployment checks failed")}.get(
                self.postdeploy, ("warn", "Nothing verified"))
        if self.gate == "open":
            return ("good" if self.ok else "bad", "Ready to deploy: the preflight gate is open")
        return ("bad", "Not ready: the preflight gate is closed")


def postdeploy_status(results: Results) -> str:
    records = results.of_phase("postdeploy")
    if any(r.outcome in ("failed", "error") for r in records):
        return "failed"
    if any(r.outcome == "passed" for r in records):
        return "passed"
    return "not run"


def build(gate: Gate | None, cook: CookResult | None, results: Results, phases: tuple[str, ...],
          host_keys: tuple[str, ...] = (), interrupted: bool = False, already_deployed: bool = False) -> RunVerdict:
    not_run: tuple[tuple[str, str], ...] = ()
    blocking: tuple[tuple[str, str, str], ...]
    waived: tuple[tuple[str, str], ...]
    if gate is None:
        gate_state, detail, blocking, waived = "closed", "no preflight check ran", (), ()
    else:
        gate_state = "open" if gate.open else "closed"
        first = gate.summary().splitlines()[0]
        detail = first.split(": ", 1)[1].rstrip(":") if ": " in first else first
        blocking = tuple((e.test, e.outcome, e.reason) for e in gate.blocking)
        waived = tuple((e.test, w.reason) for e, w in gate.waived)
        not_run = tuple((e.test, e.reason) for e in gate.not_run)
    cook_status = cook.status if cook else "not run"
    return RunVerdict(
        gate=gate_state, gate_detail=detail, blocking=blocking, waived=waived,
        cook=cook_status,
        cook_exit=cook.exit_status if cook else None,
        cook_duration=cook.duration if cook else None,
        cook_message=cook.message if cook else "",
        postdeploy=postdeploy_status(results),
        counts=results.counts(),
        phase_counts={p: results.counts(results.of_phase(p)) for p in phases},
        not_run=not_run,
        host_keys=host_keys,
        interrupted=interrupted,
        already_deployed=already_deployed,
    )
