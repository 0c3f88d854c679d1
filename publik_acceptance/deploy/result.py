"""What a cook ends with: its result for the report, or the refusal that stops it before it cooks.

Cook's exit status is not the verdict. `hobo-manage cook --timeout N` gives up waiting for a service
with "timeout waiting for …" and a non-zero exit while the deployment goes on asynchronously; it can
also end 0 while a service failed. Both go on to postdeploy, which decides. Only a cook that failed
for another reason, or that our own hard limit had to stop, is a cook failure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

RAN, TIMED_OUT_WAITING, FAILED = "ran", "timed out waiting", "failed"
# Statuses after which the deployment may go on: postdeploy runs and decides.
COOKED = (RAN, TIMED_OUT_WAITING)
# `timeout` (coreutils) exits 124 when it stopped the command, 137 when it had to KILL it.
HARD_TIMEOUT_STATUSES = (124, 137)
# hobo's cook: "CommandError: timeout waiting for <url>"; tolerant of wording around it.
_WAITING = re.compile(r"\b(?:timeout|timed out)\s+(?:while\s+)?waiting\s+for\b", re.IGNORECASE)
MAX_QUOTED = 200  # characters of cook's own line quoted in the message


@dataclass
class CookResult:
    status: str  # "ran", "timed out waiting", "failed", "dry-run", "not run", "interrupted"
    exit_status: int | None = None
    duration: float = 0.0
    log: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    message: str = ""

    @property
    def cooked(self) -> bool:
        """The cook handed the recipe over (exit 0, or it gave up waiting): postdeploy decides."""
        return self.status in COOKED


@dataclass(frozen=True)
class Ending:
    """How one cook command ended, as classified from its exit status and output."""

    status: str  # RAN, TIMED_OUT_WAITING or FAILED
    message: str


def classify(instance: str, exit_status: int, output: Iterable[str], elapsed: float, timeout: float,
             hard_timeout: float) -> Ending:
    """The cook of `instance` ended with `exit_status` after `elapsed` s, having printed `output` (its
    own lines, stdout and stderr); `timeout` is cook's own --timeout, `hard_timeout` our limit."""
    if exit_status in HARD_TIMEOUT_STATUSES:
        return Ending(FAILED, f"cook of {instance} timed out after {hard_timeout:g} s: the suite stopped it "
                              f"(cook.timeout {timeout:g} s + cook.kill_margin); cook did not give up waiting "
                              "on its own")
    if exit_status == 0:
        return Ending(RAN, f"cook of {instance} finished in {elapsed:.1f} s (exit 0; postdeploy decides)")
    waiting = next((line.strip() for line in output if _WAITING.search(line)), None)
    if waiting is not None:
        quoted = waiting if len(waiting) <= MAX_QUOTED else waiting[:MAX_QUOTED] + "…"
        return Ending(TIMED_OUT_WAITING, f"cook of {instance} timed out waiting after {elapsed:.1f} s (exit "
                                         f"{exit_status}: {quoted}); the deployment goes on asynchronously: "
                                         "postdeploy decides")
    return Ending(FAILED, f"cook of {instance} exited {exit_status} after {elapsed:.1f} s")


def combine(previous: str, ending: str) -> str:
    """The cook's status over several instances: a failure wins, then a wait given up, then ran."""
    for status in (FAILED, TIMED_OUT_WAITING):
        if status in (previous, ending):
            return status
    return RAN


class CookRefused(Exception):
    """A precondition for cooking does not hold (lock taken, nothing to cook…)."""
