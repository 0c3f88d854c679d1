"""--resume: cooking again over a partial or earlier deployment of the same recipe.

Cook is get-or-create and integrators re-run it after a partial deployment. With --resume, a tenant of
this recipe that already exists (its tenant directory, under one of the recipe's hostnames, where the
service looks for it) is accepted: the clean-slate check and the 404 check pass with a note, and the
report lists it as "already there". Anything else found before the cook stays a refusal: a schema or w.c.s.
database without its tenant directory is a leftover of an earlier clean-up (cook would reuse the old
schema, and w.c.s. would fail to create a database that exists), and a hostname that answers while
no tenant of it exists is served by something else (see test_http_404).
"""

from __future__ import annotations

from publik_acceptance.evidence.probes.http import HttpExchange
from publik_acceptance.evidence.servers import ServerFacts, found_tenant_dir
from publik_acceptance.judge.checks import Verdict
from publik_acceptance.plan import Target


def tenant_there(target: Target, server: ServerFacts) -> bool:
    """The target's tenant directory exists on its server, as the preflight saw it: at its catalogue path,
    or (w.c.s.) at the old location w.c.s. still serves."""
    return found_tenant_dir(target, server.paths) is not None


def judge_resumable(target: Target, found: list[str], tenant: bool) -> Verdict:
    """Under --resume, what exists of `target` before the cook (`found`, non-empty): accepted when it is
    the tenant itself (`tenant`: its directory exists), refused when only leftovers without it exist."""
    verdict = Verdict("nothing deployed yet (--resume)", f"{target.id} (instance {target.instance})")
    if tenant:
        verdict.note(f"already there (--resume): {'; '.join(found)}; the cook goes over it again (get-or-create)")
        if target.per_tenant_database and not any(f.startswith("database ") for f in found):
            verdict.note(f"no database {target.database} yet: w.c.s. creates it only for a new tenant directory, "
                         "so cooking again will not; postdeploy tells whether it came")
        return verdict
    verdict.expect(False, f"with --resume: nothing, or the tenant itself (its directory {target.tenant_dir})",
                   f"{'; '.join(found)}, without the tenant directory {target.tenant_dir}",
                   "a leftover of an earlier clean-up, not a tenant of this recipe: cook would reuse an old schema, "
                   "and w.c.s. would fail to create a database that exists. Drop it by hand (DROP SCHEMA … CASCADE "
                   "/ DROP DATABASE …) or restore the tenant directory, then run again")
    return verdict


def judge_existing_answer(target: Target, address: str, port: int, exchange: HttpExchange) -> Verdict:
    """Under --resume, for a hostname whose tenant is already there: any answer of the Publik services (a
    page, a redirect, or still the 404) passes with a note; no answer or a server error does not."""
    verdict = Verdict("HTTP before cook (--resume)", f"GET https://{target.hostname}/ on {address}:{port}")
    verdict.note(exchange.summary() + f" [{exchange.elapsed * 1000:.0f} ms]")
    verdict.attach("http", f"GET https://{target.hostname}/ on {address}", exchange)
    status = exchange.status
    answered = status is not None and status < 500
    if answered:
        verdict.note(f"already there (--resume): the tenant of {target.hostname} exists, so it may answer "
                     f"{status} instead of the 404 of a name without tenant")
    actual = f"{status} {exchange.reason}" if status is not None else (exchange.error or "no answer")
    verdict.expect(answered, "an answer from the Publik services (the tenant is already there)", actual,
                   "the frontend or the service behind it does not answer properly for this name: start or fix "
                   "it (upstream configuration, service processes and their logs) before cooking again")
    return verdict
