"""What the federation checks (issue 12) add to a postdeploy poll round, at fleet scale.

One sandbox of N instances (default 50) with L ms added to every new frontend connection and DNS
answer, cooked for real; once everything is deployed, one postdeploy round (every item probed once,
as the first round after a cook does) is timed with and without the federation items (IdP and SP
metadata, each service's login redirect, the real login once per instance), best of `--runs`.
Target: under 1 s more per round at N = 50. Needs root and the sandbox packages; brings its sandbox
down at the end, whatever happens.

    python benchmarks/federation_round.py [--instances 50] [--latency-ms 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.preflight_fleet import fmt, log, variant, wait_for_addresses  # noqa: E402
from publik_acceptance.deploy.cook import Cook  # noqa: E402
from publik_acceptance.evidence.preflight import PreflightEvidence  # noqa: E402
from publik_acceptance.evidence.prober import Prober  # noqa: E402
from publik_acceptance.evidence.probes.remote import SshPool  # noqa: E402
from publik_acceptance.judge.federation_poll import FEDERATION_ASPECTS  # noqa: E402
from publik_acceptance.judge.postdeploy import Item, PostdeployEvidence  # noqa: E402
from publik_acceptance.plan import Plan, load_plan  # noqa: E402
from publik_sandbox import Sandbox  # noqa: E402


class WithoutFederation(PostdeployEvidence):
    def _items(self) -> list[Item]:
        return [i for i in super()._items() if i.aspect not in FEDERATION_ASPECTS]


def machine_cpu() -> float:
    """CPU seconds every process of this machine has used so far, on all its cores (/proc/stat)."""
    with open("/proc/stat", encoding="ascii") as fh:
        fields = fh.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")  # not steal: another VM's


def one_round(plan: Plan, federation: bool) -> tuple[float, int, int, float, float]:
    """Seconds for the settled platform's postdeploy (one round when all holds), its items, how many are ok,
    the suite's own CPU seconds in it, and the whole machine's (the sandbox's servers run in other processes,
    on the same cores)."""
    env = plan.environment
    pool, prober = SshPool(env), Prober(env)
    try:
        preflight = PreflightEvidence(plan, pool, prober)
        preflight.dns  # noqa: B018 — the suite resolves at collection
        evidence = (PostdeployEvidence if federation else WithoutFederation)(plan, pool, prober, preflight)
        started, cpu, everything = time.monotonic(), time.process_time(), machine_cpu()
        outcome = evidence.outcome()
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
        everything = machine_cpu() - everything
        ok = sum(1 for i in outcome.items.values() if i.ready_at is not None)
        if federation:
            log(f"round {fmt(elapsed)}: federation fetches {fmt(evidence.federation.seconds.get('fetches'))}, "
                f"logins {fmt(evidence.federation.seconds.get('logins'))}, "
                f"{evidence.federation.reused} login chains read from the page checks' chains")
        return elapsed, len(outcome.items), ok, cpu, everything
    finally:
        prober.close()
        pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--wait", type=float, default=600, help="seconds to wait for another sandbox to go down")
    args = parser.parse_args(argv)
    wait_for_addresses(args.wait)
    work = Path(tempfile.mkdtemp(prefix="publik-bench-federation-"))
    work.chmod(0o755)
    sandbox = Sandbox(state_dir=work / "sandbox", instances=args.instances, env_file=None,
                      latency_ms=args.latency_ms, deploy_delay=(0.05, 0.3), postdeploy_deadline=120.0)
    try:
        log(f"sandbox up: {args.instances} instances, +{args.latency_ms:g} ms")
        sandbox.up()
        plan = load_plan(variant(sandbox.env_file, args.instances, work / "fleet.yml"))
        pool = SshPool(plan.environment)
        try:
            log("cook")
            Cook(plan, pool, sink=lambda _line: None).run()
        finally:
            pool.close()
        elapsed, items, ok, _cpu, _all = one_round(plan, True)  # waits for the whole deployment, federation included
        log(f"deployed: {ok} of {items} items ready after {fmt(elapsed)}")
        with_fed = [one_round(plan, True) for _ in range(args.runs)]
        without = [one_round(plan, False) for _ in range(args.runs)]
    finally:
        log("sandbox down")
        with contextlib.suppress(Exception):
            sandbox.down()
        shutil.rmtree(work, ignore_errors=True)
    best_with, best_without = min(r[0] for r in with_fed), min(r[0] for r in without)
    cpu_with, cpu_without = min(r[3] for r in with_fed), min(r[3] for r in without)
    print(f"\nPostdeploy round at N = {args.instances} (+{args.latency_ms:g} ms per new connection), best of "
          f"{args.runs}: {fmt(best_without)} without federation ({without[0][1]} items), {fmt(best_with)} with it "
          f"({with_fed[0][1]} items, {with_fed[0][2]} ok): federation adds {fmt(best_with - best_without)} "
          f"(target: under 1 s); the suite's own CPU: {fmt(cpu_without)} → {fmt(cpu_with)}")
    # Where the added time goes: the suite's CPU, and the stand-in's (IdP, SPs, latency proxy, nginx) on
    # the same cores. With C cores, a round cannot take less than all that CPU / C.
    cores = os.cpu_count() or 1
    best_all_with = min(r[4] for r in with_fed)
    best_all_without = min(r[4] for r in without)
    suite_added, standin_added = cpu_with - cpu_without, (best_all_with - cpu_with) - (best_all_without - cpu_without)
    print(f"CPU the federation adds to a round: the suite {fmt(suite_added)}, the stand-in's servers "
          f"{fmt(standin_added)} (whole machine {fmt(best_all_without)} → {fmt(best_all_with)}); on {cores} cores "
          f"that alone is at least {fmt((suite_added + standin_added) / cores)} more per round")
    return 0


if __name__ == "__main__":
    sys.exit(main())
