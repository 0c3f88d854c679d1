"""What a cook ends with: its result for the report, or the refusal that stops it before it cooks."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CookResult:
    status: str  # "ran", "failed", "dry-run", "not run", "interrupted"
    exit_status: int | None = None
    duration: float = 0.0
    log: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    message: str = ""


class CookRefused(Exception):
    """A precondition for cooking does not hold (lock taken, nothing to cook…)."""
