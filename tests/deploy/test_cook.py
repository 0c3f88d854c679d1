"""The cook: one gated item. It runs only if every preflight check passed (or was waived).

It passes when cook handed the recipe over: exit 0, or cook gave up waiting for a service (its own
--timeout) while the deployment goes on; postdeploy decides in both cases. It fails when cook failed
otherwise or our hard limit stopped it.
"""

from __future__ import annotations

import contextlib

import pytest

from publik_acceptance.deploy.aftermath import where_things_stand
from publik_acceptance.deploy.cook import Cook
from publik_acceptance.deploy.protection import confirm_protected
from publik_acceptance.plan import Plan
from publik_acceptance.pytest_plugin import RunContext, deadline_refusal


@pytest.mark.report(cook_log=True)
def test_cook(plan: Plan, run: RunContext, pytestconfig: pytest.Config) -> None:
    gate = run.gate
    if gate.only_narrowed:
        # Nothing failed, but the command line left checks out: a deploy run that cooked nothing must not
        # end green (a pipeline would take it for a deployment).
        pytest.fail(f"not run: {gate.summary()}", pytrace=False)
    if not gate.open:
        pytest.skip(f"not run: {gate.summary()}")
    env = plan.environment
    ticket = pytestconfig.getoption("publik_ticket")
    dry_run = pytestconfig.getoption("publik_dry_run")
    if env.protected and not dry_run:
        refusal = confirm_protected(pytestconfig, plan, ticket, pytestconfig.getoption("publik_yes"),
                                    already_there=len(gate.already_there))
        if refusal:
            pytest.fail(f"cook refused: {refusal}", pytrace=False)
    late = deadline_refusal(pytestconfig, "the cook")  # the confirmation above may have waited long
    if late:
        pytest.fail(f"cook refused: {late}", pytrace=False)

    def sink(line: str) -> None:
        run.say(f"cook {line}")

    cook = Cook(plan, run.pool, ticket=ticket, dry_run=dry_run, sink=sink,
                break_lock=pytestconfig.getoption("publik_break_lock"), already_there=tuple(gate.already_there))
    try:
        run.cook = cook.run()
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the cook cleaned up; the report says it was interrupted
        run.cook = cook.result
        with contextlib.suppress(BaseException):  # a second Ctrl-C skips the look, never the interrupt
            standing = where_things_stand(plan, run.pool, run.prober, pytestconfig.getoption("publik_env"))
            for line in standing.splitlines():
                sink(line)
        raise
    result = run.cook
    if result.cooked or result.status == "dry-run":
        # Exit 0 or a wait cook gave up (--timeout): the deployment goes on, postdeploy decides.
        return
    log = "\n".join(result.log[-40:])
    standing = where_things_stand(plan, run.pool, run.prober, pytestconfig.getoption("publik_env"))
    for line in standing.splitlines():
        sink(line)
    pytest.fail(f"cook {result.status}: {result.message}\n{standing}\n"
                f"--- cook log (last lines, redacted) ---\n{log}", pytrace=False)
