"""The whole run's deadline: once it has passed, no check starts and the cook is never started.

Every network operation has its own timeout, but a run of many of them against a slow or hostile
platform could still go on for hours. The deadline counts from the start of pytest (collection
included). A check already running when it passes is not interrupted (each of its operations is
bounded); every check after it fails at once, saying so, instead of waiting its turn.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

from publik_acceptance.config.environment import DEFAULT_RUN_DEADLINE, Environment

# What the default leaves for the checks around a cook that may use all of its hard limit (cook.timeout
# + cook.kill_margin) and a postdeploy wait that may use all of postdeploy.deadline.
CHECKS_MARGIN = 600.0


def default_seconds(env: Environment) -> float:
    """DEFAULT_RUN_DEADLINE, or longer when the cook's timeout and the postdeploy wait need it."""
    return max(DEFAULT_RUN_DEADLINE, env.cook.hard_timeout + env.postdeploy.deadline + CHECKS_MARGIN)


@dataclass
class RunDeadline:
    seconds: float
    source: str  # where the value comes from, to tell the operator what to change
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def for_run(cls, option: float | None, env: Environment | None) -> RunDeadline | None:
        """--deadline first, then the environment's run.deadline or its default; none without either."""
        if option is not None:
            return cls(option, "--deadline")
        if env is None:
            return None
        if env.run.deadline is not None:
            return cls(env.run.deadline, f"run.deadline in {env.file.name}")
        return cls(default_seconds(env), f"the default; set run.deadline in {env.file.name} or --deadline")

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def passed(self) -> bool:
        return self.elapsed >= self.seconds

    def refusal(self, what: str) -> str | None:
        """Why `what` must not start, or None while there is time left."""
        if not self.passed:
            return None
        return (f"run deadline of {self.seconds:g} s passed ({self.source}) after {self.elapsed:.0f} s: {what} not "
                "started. Nothing is waiting any more; look at the checks that took long (slow or unreachable "
                "servers), or give the run more time")

    def describe(self) -> str:
        return f"{self.seconds:g} s ({self.source})"


def parse_seconds(text: str) -> float:
    """The value of --deadline: a positive number of seconds (a usage error, exit 4, otherwise)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value
