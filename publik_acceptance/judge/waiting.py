"""Verdicts for waited-for items: what was waited for, the last state seen, since when, the deadline."""

from __future__ import annotations

from publik_acceptance.judge.checks import Verdict
from publik_acceptance.judge.expectations import State
from publik_acceptance.judge.postdeploy import Item, Outcome

ASPECT_TITLES = {"tenant": "tenant directory", "database": "database", "page": "page or redirect",
                 "theme": "theme", "site-options": "w.c.s. site options", "idp-metadata": "IdP metadata",
                 "sp-metadata": "SP metadata", "login-redirect": "login redirect through the IdP",
                 "backoffice-redirect": "back-office login redirect through the IdP", "login": "real login"}


def polls(n: int) -> str:
    """`1 poll`, `5 polls`: waits are told in sentences (here and in the report)."""
    return f"{n} poll" + ("" if n == 1 else "s")


def conclude(item: Item | None, outcome: Outcome, check: str, subject: str) -> None:
    __tracebackhide__ = True
    verdict = Verdict(check, subject)
    if item is None or item.judgement is None:
        verdict.expect(False, "a probed state", "never probed", "report this as a bug of the suite")
        verdict.conclude()
        return
    judgement = item.judgement
    verdict.evidence.extend(judgement.evidence)
    if judgement.state is State.OK:
        verdict.note(f"ready after {item.ready_at:.1f} s ({polls(item.polls)})")
        verdict.conclude()
        return
    if item.settled and judgement.final:
        actual = f"{judgement.actual} — waiting cannot fix this, so not waiting for the {outcome.deadline:g} s deadline"
    elif item.settled:
        actual = (f"{judgement.actual} — the same for {polls(item.stable)} in a row "
                  f"(since {item.since:.1f} s), so not waiting for the rest of the {outcome.deadline:g} s deadline")
    else:
        actual = f"still {judgement.actual} after {outcome.elapsed:.0f} s (deadline {outcome.deadline:g} s)"
    others = [f"{ASPECT_TITLES[o.aspect]}{' on ' + o.address if o.address else ''}: "
              + (f"ready since {o.ready_at:.1f} s" if o.ready_at is not None
                 else f"{o.judgement.actual if o.judgement else 'not probed'}")
              for o in outcome.of(item.target) if o is not item]
    verdict.expect(False, judgement.expected, actual, judgement.todo)
    if others:
        verdict.note("same tenant: " + "; ".join(others))
    verdict.conclude()
