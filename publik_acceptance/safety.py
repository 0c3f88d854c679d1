"""Protected platforms (prod): the cook needs a ticket and a confirmation naming platform and instances."""

from __future__ import annotations

import pytest

from .plan import Plan


def confirm_protected(config: pytest.Config, plan: Plan, ticket: str | None, yes: bool) -> str | None:
    """None when the cook may go ahead; otherwise why not (one line)."""
    env = plan.environment
    instances = ", ".join(i.name for i in env.instances)
    if not ticket:
        return (f"{env.platform} is protected: give the change ticket (--ticket REF); "
                "the preflight ran, nothing was cooked")
    if yes:
        return None
    try:
        tty = open("/dev/tty", "r+", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError:
        return f"{env.platform} is protected: no terminal to confirm on; add --yes to confirm ticket {ticket}"
    capture = config.pluginmanager.getplugin("capturemanager")
    with tty, capture.global_and_fixture_disabled():
        tty.write(f"\nCook instance(s) {instances} on PROTECTED platform {env.platform} for ticket {ticket}?\n"
                  f"Type the platform name ({env.platform}) to confirm: ")
        tty.flush()
        answer = tty.readline().strip()
    if answer != env.platform:
        return f"not confirmed (typed {answer!r}, expected {env.platform!r}); nothing was cooked"
    return None
