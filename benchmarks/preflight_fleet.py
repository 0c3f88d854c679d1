"""Preflight at fleet scale: the suite against the runbook done by hand, and against the latency floor.

One sandbox of max(N) instances with L ms added to every new frontend connection and DNS answer
(`Sandbox(latency_ms=L)`), then for each N (the first N instances of its environment file):

- suite: the preflight evidence gathered as the suite gathers it (DNS, then TLS+HTTP on every
  address alongside the SSH facts and the database facts), in this process, without pytest;
- baseline: the same checks the way the runbook is followed today, host by host, sequentially,
  with real tools: `dig` (A and AAAA), per address `openssl s_client … | openssl x509 -enddate`
  and `curl --resolve`, then one `ssh` per host for its tenant directory and one `ssh … psql` for
  its schema or database. For large N a sample of hosts is timed and extrapolated linearly;
- floor: ceil(addresses / http.concurrency) × the slowest single address's DNS+TLS+HTTP time
  (each sampled address measured alone, nothing else in flight).

Then end to end, for N = 50, 200 and 500 when among the sizes (and the largest N ≤ 50): a real
`pytest --env=… --phase preflight` as the operator types it, in one process and with pytest-xdist's
`-n 2`, timed from outside (wall; peak RSS and CPU of the child from wait4) and inside (time its main
thread waited on evidence, collection, reporting); the headline is `e2e/floor`, beside the pytest floor
(pytest alone on as many checks that only assert, with the same report plugins). For the largest
N ≤ 50 also the HTML report's size and Chromium's time to open it, and the postdeploy evidence after a
real cook of those N instances: the whole wait, then one poll round once everything is deployed
(`postdeploy round`), with SSH connections and remote commands per server per round.

Speed is printed as ratios, never asserted. Needs root and the sandbox packages
(scripts/system-packages.sh); brings its sandbox down at the end, whatever happens. Run it under
`flock /tmp/publik-selftest.lock` where self-tests may use the sandbox's addresses.

    python benchmarks/preflight_fleet.py [--sizes 1,10,50,200,500] [--latency-ms 20] [--xdist 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import report_weight  # noqa: E402
from publik_acceptance.deploy.cook import Cook  # noqa: E402
from publik_acceptance.evidence.preflight import PreflightEvidence  # noqa: E402
from publik_acceptance.evidence.prober import Prober  # noqa: E402
from publik_acceptance.evidence.probes import dns as dns_probe  # noqa: E402
from publik_acceptance.evidence.probes import http as http_probe  # noqa: E402
from publik_acceptance.evidence.probes.remote import SshPool  # noqa: E402
from publik_acceptance.evidence.probes.tls import verifying_context  # noqa: E402
from publik_acceptance.judge.postdeploy import PostdeployEvidence  # noqa: E402
from publik_acceptance.plan import Plan, Target, load_plan  # noqa: E402
from publik_sandbox import Network, Sandbox  # noqa: E402
from publik_sandbox.procs import port_in_use  # noqa: E402

TOOLS = {"dig": "dnsutils", "openssl": "openssl", "curl": "curl", "ssh": "openssh-client"}


def log(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# -- the suite ----------------------------------------------------------------------------------------
@dataclass
class SuiteTiming:
    dns: float
    frontends: float  # TLS+HTTP on every address, from the end of DNS
    hosts: float  # SSH facts then database facts, from the end of DNS (concurrent with frontends)
    total: float
    addresses: int
    ssh_connections: int
    remote_commands: int

    @property
    def network(self) -> float:
        """DNS+TLS+HTTP only: what the baseline's dig/openssl/curl and the floor cover."""
        return self.dns + self.frontends


def suite_preflight(plan: Plan) -> SuiteTiming:
    pool, prober = SshPool(plan.environment), Prober(plan.environment)
    try:
        evidence = PreflightEvidence(plan, pool, prober)
        started = time.monotonic()
        evidence.dns  # noqa: B018 — gathered at collection by the suite, before anything else
        after_dns = time.monotonic()
        ends: dict[str, float] = {}
        # Start everything as the first preflight test does, and note when each category is ready.
        with evidence._lock:
            evidence._start_gathering()
            for name, future in evidence._futures.items():
                future.add_done_callback(lambda _f, n=name: ends.setdefault(n, time.monotonic()))
        evidence.exchanges  # noqa: B018
        evidence.database  # noqa: B018
        finished = time.monotonic()
        return SuiteTiming(
            dns=after_dns - started, frontends=ends["exchanges"] - after_dns, hosts=ends["database"] - after_dns,
            total=finished - started, addresses=len(evidence.exchanges),
            ssh_connections=sum(pool.stats.connections.values()), remote_commands=sum(pool.stats.commands.values()))
    finally:
        prober.close()
        pool.close()


def best_of(runs: int, fn: Callable[[], SuiteTiming]) -> SuiteTiming:
    """The median run by total time (the first run also warms caches, as a re-run would)."""
    results = sorted((fn() for _ in range(runs)), key=lambda t: t.total)
    return results[len(results) // 2]


# -- the floor ----------------------------------------------------------------------------------------
def slowest_single_address(plan: Plan, sample: list[tuple[str, str]]) -> float:
    """DNS (A) + TLS + HTTP for one address, nothing else in flight; the slowest of the sample."""
    env = plan.environment
    context = verifying_context(env.tls)
    resolver = env.dns.resolvers[0]
    slowest = 0.0
    for host, address in sample:
        started = time.monotonic()
        dns_probe.query(host, resolver, "A", env.dns.timeout)
        http_probe.get(f"https://{host}/", address, env.http.port, context, env.http.timeout)
        slowest = max(slowest, time.monotonic() - started)
    return slowest


# -- the baseline -------------------------------------------------------------------------------------
@dataclass
class BaselineTiming:
    hosts_timed: int
    hosts_total: int
    network: float  # dig + openssl + curl, extrapolated to every host
    servers: float  # ssh stat + ssh psql, extrapolated
    failures: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return self.network + self.servers

    @property
    def extrapolated(self) -> bool:
        return self.hosts_timed < self.hosts_total


class Runbook:
    """What a person types for one host, as in the runbook; every command really runs."""

    def __init__(self, sandbox: Sandbox, plan: Plan) -> None:
        env = plan.environment
        self.env = env
        self.resolver = env.dns.resolvers[0]
        self.port = env.http.port
        self.ca = str(env.tls.ca_bundle)
        paths = sandbox.paths
        net = sandbox.config.network
        self.ssh = ["ssh", "-q", "-i", str(paths.client_key), "-o", f"UserKnownHostsFile={paths.known_hosts}",
                    "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-p", str(net.ssh_port),
                    f"root@{net.ssh}"]
        self.psql = env.database.psql

    def _run(self, argv: list[str] | str, failures: list[str]) -> str:
        result = subprocess.run(argv, shell=isinstance(argv, str), capture_output=True, text=True, timeout=30,
                                stdin=subprocess.DEVNULL, check=False)
        if result.returncode not in (0, 1):  # 1: e.g. stat of a tenant directory that is not there yet
            failures.append(f"{argv if isinstance(argv, str) else shlex.join(argv)}: exit {result.returncode}")
        return result.stdout

    def network(self, target: Target, failures: list[str]) -> None:
        addresses: list[str] = []
        for rdtype in ("A", "AAAA"):
            out = self._run(["dig", "+short", "+time=2", "+tries=1", f"@{self.resolver.address}",
                             "-p", str(self.resolver.port), target.hostname, rdtype], failures)
            addresses += [line for line in out.split() if line[:1].isdigit()]
        if not addresses:
            failures.append(f"dig {target.hostname}: no address")
        for address in addresses:
            host = shlex.quote(target.hostname)
            self._run(f"openssl s_client -connect {address}:{self.port} -servername {host} -verify_hostname {host} "
                      f"-verify_return_error -CAfile {shlex.quote(self.ca)} </dev/null 2>/dev/null "
                      "| openssl x509 -noout -enddate -subject", failures)
            code = self._run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                              "--cacert", self.ca, "--resolve", f"{target.hostname}:{self.port}:{address}",
                              f"https://{target.hostname}:{self.port}/"], failures)
            if code != "404":
                failures.append(f"curl {target.hostname} via {address}: {code}")

    def servers(self, target: Target, failures: list[str]) -> None:
        self._run([*self.ssh, f"stat -c '%U:%G %a' {shlex.quote(target.tenant_dir)}"], failures)
        if target.schema:
            query = f"SELECT nspname FROM pg_namespace WHERE nspname = '{target.schema}'"
            command = f"{self.psql} -Atc {shlex.quote(query)} {shlex.quote(target.database)}"
        else:
            query = f"SELECT datname FROM pg_database WHERE datname = '{target.database}'"
            command = f"{self.psql} -Atc {shlex.quote(query)} postgres"
        self._run([*self.ssh, command], failures)


def baseline(sandbox: Sandbox, plan: Plan, sample_size: int) -> BaselineTiming:
    runbook = Runbook(sandbox, plan)
    targets = plan.targets
    rng = random.Random(len(targets))
    sample = targets if len(targets) <= sample_size else rng.sample(targets, sample_size)
    failures: list[str] = []
    started = time.monotonic()
    for target in sample:
        runbook.network(target, failures)
    network = time.monotonic() - started
    started = time.monotonic()
    for target in sample:
        runbook.servers(target, failures)
    servers = time.monotonic() - started
    scale = len(targets) / len(sample)
    return BaselineTiming(len(sample), len(targets), network * scale, servers * scale, failures)


# -- pytest end to end, its overhead, the report -----------------------------------------------------
@dataclass
class PytestTiming:
    wall: float
    blocked: float
    collection: float
    reporting: float
    exit_code: int
    summary: str
    html_bytes: int | None
    html_open: float | None
    peak_rss_mib: float  # resource usage of the pytest process (and, with -n, the largest of its workers)
    cpu: float  # user + system seconds of the pytest process and its waited-for children
    workers: int = 0  # pytest-xdist worker processes (-n), 0: one process

    @property
    def overhead(self) -> float:
        return self.wall - self.blocked


def pytest_run(env_file: Path, work: Path, workers: int = 0, chromium: bool = True) -> PytestTiming:
    """`pytest --phase preflight` as the operator types it, timed from outside (wall, peak memory and CPU of
    the child from wait4), and from inside by benchmarks/pytest_timing.py (time blocked on evidence)."""
    tag = f"{env_file.stem}-n{workers}"
    timing = work / f"pytest-timing-{tag}.json"
    reports = work / f"reports-{tag}"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "benchmarks.pytest_timing",
               f"--env={env_file}", "--phase=preflight", f"--reports-dir={reports}", "--no-screenshots", "-q"]
    if workers:
        command += ["-n", str(workers)]
    out = work / f"pytest-{tag}.out"
    with out.open("w") as sink:
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env={**os.environ, "PUBLIK_BENCH_TIMING": str(timing)})
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    data = json.loads(timing.read_text()) if timing.exists() else {}
    lines = [line for line in out.read_text().splitlines() if line.strip()]
    html = sorted(reports.glob("*.html"))
    html_bytes = html[-1].stat().st_size if html else None
    report_weight.measure(html[-1] if html and chromium else None, env_file)
    return PytestTiming(wall, data.get("blocked_on_evidence", 0.0), data.get("collection", 0.0),
                        data.get("reporting", 0.0), process.returncode, lines[-1] if lines else "",
                        html_bytes, open_in_chromium(html[-1]) if html and chromium else None,
                        usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, workers)


def checks_in(summary: str) -> int:
    """How many checks pytest's last line counts ("2311 passed, 3 skipped in 5.1s" → 2314)."""
    return sum(int(n) for n, _ in re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)", summary))


def pytest_floor(items: int, work: Path) -> float:
    """What pytest itself costs for `items` checks on this machine: one test parametrised `items` times,
    with ids shaped like ours and a body that only asserts, run with the report plugins the suite's run
    has on (pytest-html self-contained, JUnit XML, -q), our plugin off, no evidence. Wall seconds, timed
    from outside as pytest_run does. No preflight of this many checks can be faster under pytest."""
    folder = work / f"pytest-floor-{items}"
    folder.mkdir(exist_ok=True)
    (folder / "test_floor.py").write_text(
        "import pytest\n\n\n"
        f"@pytest.mark.parametrize('frontend', [f'combo|ville{{i:03}}.example.test|127.0.0.{{i % 250}}' "
        f"for i in range({items})])\n"
        "def test_floor(frontend):\n    assert frontend\n")
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:publik_acceptance.pytest_plugin",
               "-q", f"--rootdir={folder}", f"--junitxml={folder / 'floor.xml'}", f"--html={folder / 'floor.html'}",
               "--self-contained-html", str(folder)]
    started = time.monotonic()
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            timeout=600, check=False)
    wall = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"the pytest floor run failed ({result.returncode}): {result.stdout[-500:]}")
    return wall


def open_in_chromium(page: Path) -> float | None:
    """Seconds for headless Chromium to load the report and run its scripts (None: no Chromium)."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary:
        return None
    with tempfile.TemporaryDirectory() as profile:
        started = time.monotonic()
        result = subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                                 "--dump-dom", page.as_uri()], capture_output=True, timeout=120, check=False)
        elapsed = time.monotonic() - started
    return elapsed if result.returncode == 0 else None


# -- postdeploy ---------------------------------------------------------------------------------------
@dataclass
class PostdeployTiming:
    cook: float
    cook_status: str
    wait: float
    rounds: int
    round_mean: float
    steady: float  # one round once everything is deployed: the gathering alone
    servers: int
    ssh_connections: int
    commands_per_server_round: int
    pending: int
    items: int = 0  # awaited items of the steady round (tenant, database, page per address, applied, federation)


def postdeploy(plan: Plan) -> PostdeployTiming:
    env = plan.environment
    pool, prober = SshPool(env), Prober(env)
    try:
        started = time.monotonic()
        cook = Cook(plan, pool, sink=lambda _line: None).run()
        cook_time = time.monotonic() - started
        preflight = PreflightEvidence(plan, pool, prober)
        outcome = PostdeployEvidence(plan, pool, prober, preflight).outcome()
    finally:
        prober.close()
        pool.close()
    pool2, prober2 = SshPool(env), Prober(env)
    try:
        preflight2 = PreflightEvidence(plan, pool2, prober2)
        preflight2.dns  # noqa: B018 — the suite resolves at collection
        started = time.monotonic()
        steady = PostdeployEvidence(plan, pool2, prober2, preflight2).outcome()
        steady_time = time.monotonic() - started
        servers = {pool2.endpoint(role).label for role in env.servers}
        per_round = max((n for r in steady.rounds + outcome.rounds for n in r.remote_commands.values()), default=0)
        pending = sum(1 for i in steady.items.values() if not i.done)
        return PostdeployTiming(
            cook=cook_time, cook_status=cook.status, wait=outcome.elapsed, rounds=len(outcome.rounds),
            round_mean=statistics.mean(r.elapsed for r in outcome.rounds) if outcome.rounds else 0.0,
            steady=steady_time, servers=len(servers), ssh_connections=sum(pool2.stats.connections.values()),
            commands_per_server_round=per_round, pending=pending, items=len(steady.items))
    finally:
        prober2.close()
        pool2.close()


# -- main ---------------------------------------------------------------------------------------------
def variant(env_file: Path, instances: int, out: Path, http: dict[str, int] | None = None) -> Path:
    """The sandbox's environment file with its first `instances` instances (and http settings changed)."""
    data = yaml.safe_load(env_file.read_text())
    data["instances"] = data["instances"][:instances]
    if http:
        data.setdefault("http", {}).update(http)
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def wait_for_addresses(timeout: float) -> None:
    """Only one sandbox at a time (shared addresses and service users): wait for another to go down."""
    deadline = time.monotonic() + timeout
    free_since: float | None = None
    while True:
        busy = [f"{p} {a}:{port}" for p, a, port in Network().all_listeners() if port_in_use(p, a, port)]
        if not busy:
            # Free twice a few seconds apart: another sandbox may be between its processes and its users.
            if free_since is not None and time.monotonic() - free_since >= 3:
                return
            free_since = free_since or time.monotonic()
            time.sleep(1)
            continue
        free_since = None
        if time.monotonic() > deadline:
            raise SystemExit(f"the sandbox addresses stay busy ({', '.join(busy[:3])}): another sandbox is up")
        log(f"another sandbox holds {busy[0]}; waiting for it to go down")
        time.sleep(10)


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,10,50,200",
                        help="instance counts, comma-separated (default 1,10,50,200; 500 for the scale figures)")
    parser.add_argument("--e2e-sizes", default="50,200,500",
                        help="sizes (among --sizes) whose whole `pytest --phase preflight` is timed")
    parser.add_argument("--xdist", type=int, default=2,
                        help="also time each end-to-end run with pytest-xdist's -n WORKERS (0: not)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="added per connection and DNS answer")
    parser.add_argument("--runs", type=int, default=3, help="suite runs per size (the median is kept)")
    parser.add_argument("--baseline-hosts", type=int, default=14,
                        help="hosts timed by hand per size beyond this many (then extrapolated)")
    parser.add_argument("--no-postdeploy", action="store_true", help="skip the cook and the postdeploy measure")
    parser.add_argument("--no-pytest", action="store_true", help="skip the end-to-end pytest measures")
    parser.add_argument("--concurrency", type=int, help="http.concurrency for the suite (default: the environment's)")
    parser.add_argument("--per-address", type=int,
                        help="http.per_address_concurrency for the suite (default: the environment's)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--wait", type=float, default=600, help="seconds to wait for another sandbox to go down")
    args = parser.parse_args(argv)
    sizes = sorted({int(s) for s in args.sizes.split(",")})
    if os.geteuid() != 0:
        raise SystemExit("run as root: the sandbox needs it")
    missing = [f"{tool} ({pkg})" for tool, pkg in TOOLS.items() if not shutil.which(tool)]
    if missing:
        raise SystemExit(f"missing tools for the baseline: {', '.join(missing)} — run scripts/system-packages.sh")

    wait_for_addresses(args.wait)
    work = Path(tempfile.mkdtemp(prefix="publik-bench-"))
    work.chmod(0o755)
    sandbox = Sandbox(state_dir=work / "sandbox", instances=max(sizes), env_file=None,
                      latency_ms=args.latency_ms, deploy_delay=(0.05, 0.3), postdeploy_deadline=120.0)
    results: dict = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "latency_ms": args.latency_ms,
                     "machine": f"{os.cpu_count()} cores, {_memory_gib()} GiB, {platform.platform()}", "sizes": {}}
    try:
        log(f"sandbox up: {max(sizes)} instances, +{args.latency_ms:g} ms")
        status = sandbox.up()
        results["sandbox_up_seconds"] = status["up_seconds"]
        rows, ratios = [], []
        for n in sizes:
            http = {k: v for k, v in (("concurrency", args.concurrency),
                                      ("per_address_concurrency", args.per_address)) if v}
            env_file = variant(sandbox.env_file, n, work / f"fleet-{n}.yml", http)
            plan = load_plan(env_file)
            log(f"N={n}: suite ×{args.runs}")
            suite = best_of(args.runs, lambda plan=plan: suite_preflight(plan))
            pairs = sorted({(t.hostname, a) for t in plan.targets for a in sandbox.config.network.frontends})
            sample = random.Random(n).sample(pairs, min(len(pairs), 20))
            slowest = slowest_single_address(plan, sample)
            concurrency = plan.environment.http.concurrency
            results["per_address_concurrency"] = plan.environment.http.per_address_concurrency
            floor = math.ceil(suite.addresses / concurrency) * slowest
            log(f"N={n}: baseline (runbook by hand)")
            base = baseline(sandbox, plan, args.baseline_hosts)
            if base.failures:
                log(f"N={n}: baseline saw {len(base.failures)} unexpected results, first: {base.failures[0]}")
            results["sizes"][n] = {"hostnames": len(plan.targets), "addresses": suite.addresses,
                                   "suite": suite.__dict__, "suite_network": suite.network,
                                   "baseline": {**base.__dict__, "total": base.total}, "slowest_single": slowest,
                                   "floor": floor, "concurrency": concurrency}
            rows.append([str(n), str(len(plan.targets)), str(suite.addresses), fmt(suite.dns), fmt(suite.frontends),
                         fmt(suite.hosts), fmt(suite.total),
                         fmt(base.network) + ("*" if base.extrapolated else ""),
                         fmt(base.total) + ("*" if base.extrapolated else ""), fmt(floor),
                         f"{suite.ssh_connections}/{suite.remote_commands}"])
            ratios.append(f"N={n:<3} suite/baseline = {suite.total / base.total:.3f} ({base.total / suite.total:.0f}× "
                          f"faster; DNS+TLS+HTTP alone {suite.network / base.network:.3f})"
                          + (f"; baseline timed on {base.hosts_timed} of {base.hosts_total} hosts, extrapolated "
                             "linearly" if base.extrapolated else ""))
            ratios.append(f"N={n:<3} suite/floor    = {suite.network / floor:.2f} (DNS+TLS+HTTP "
                          f"{fmt(suite.network)}; floor = ceil({suite.addresses}/{concurrency}) × {fmt(slowest)})")
        mid = max([n for n in sizes if n <= 50] or [sizes[0]])
        mid_env = work / f"fleet-{mid}.yml"
        e2e_sizes = [] if args.no_pytest else sorted({mid} | ({int(x) for x in args.e2e_sizes.split(",")} & set(sizes)))
        e2e: dict[int, list[PytestTiming]] = {}
        pytest_floors: dict[int, float] = {}  # pytest alone, as many trivial checks, the same report plugins
        for n in e2e_sizes:
            log(f"N={n}: pytest --phase preflight" + (f", then with -n {args.xdist}" if args.xdist else ""))
            e2e[n] = [pytest_run(work / f"fleet-{n}.yml", work, chromium=n == mid)]
            pytest_floors[n] = pytest_floor(checks_in(e2e[n][0].summary), work)
            if args.xdist:
                e2e[n].append(pytest_run(work / f"fleet-{n}.yml", work, workers=args.xdist, chromium=False))
        post = None if args.no_postdeploy else postdeploy(load_plan(mid_env))
    finally:
        log("sandbox down")
        with contextlib.suppress(Exception):
            sandbox.down()
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nPreflight at fleet scale — {results['date']}, {results['machine']}")
    print(f"sandbox of {max(sizes)} instances up in {results['sandbox_up_seconds']} s; +{args.latency_ms:g} ms "
          "per new frontend connection and per DNS answer\n")
    print(table(["N", "hostnames", "addresses", "suite DNS", "suite TLS+HTTP", "suite SSH+DB", "suite total",
                 "baseline DNS+TLS+HTTP", "baseline total", "floor", "SSH conn/cmds"], rows))
    print(f"  suite: http.concurrency {rows and results['sizes'][sizes[0]]['concurrency']}, "
          f"per_address_concurrency {results.get('per_address_concurrency')} (2 frontend addresses); "
          "TLS+HTTP and SSH+DB run at the same time, after DNS;\n  floor covers DNS+TLS+HTTP only, with "
          "http.concurrency in flight;")
    print("  * baseline extrapolated linearly from a random sample of hosts (SSH is not delayed: it is local)\n")
    for line in ratios:
        print(line)
    if e2e:
        print("\nEnd to end: `pytest --phase preflight` as typed (start-up, DNS at collection, the checks, the report)")
        rows = []
        for n, runs in e2e.items():
            size = results["sizes"][n]
            floor = size["floor"]
            for run in runs:
                rows.append([str(n), str(size["hostnames"]), str(size["addresses"]),
                             f"-n {run.workers}" if run.workers else "1 process", fmt(run.wall), fmt(run.blocked),
                             fmt(run.overhead), fmt(run.collection), fmt(run.reporting), fmt(run.cpu),
                             f"{run.peak_rss_mib:.0f} MiB", fmt(floor), f"{run.wall / floor:.2f}",
                             fmt(pytest_floors[n]), f"{run.wall / pytest_floors[n]:.2f}", run.summary])
        print(table(["N", "hostnames", "addresses", "run", "wall", "waiting on evidence", "pytest's own", "collection",
                     "reporting", "CPU", "peak RSS", "floor", "e2e/floor", "pytest floor", "e2e/pytest floor",
                     "outcome"], rows))
        print("  pytest floor: pytest alone on as many checks that only assert, with the same report plugins "
              "(pytest-html, JUnit, -q), no evidence: no pytest run of that many checks is faster here")
        results["e2e"] = {n: [{**r.__dict__, "overhead": r.overhead, "e2e_floor": r.wall / results["sizes"][n]["floor"],
                               "pytest_floor": pytest_floors[n], "e2e_pytest_floor": r.wall / pytest_floors[n]}
                              for r in runs] for n, runs in e2e.items()}
        for n, runs in e2e.items():
            best = min(runs, key=lambda r: r.wall)
            print(f"N={n:<3} e2e/floor      = {runs[0].wall / results['sizes'][n]['floor']:.2f}"
                  + (f" (with -n {best.workers}: {best.wall / results['sizes'][n]['floor']:.2f})"
                     if best.workers else "") + "  — headline, target ≤ 2")
            bare = pytest_floors[n] / results["sizes"][n]["floor"]
            print(f"N={n:<3} pytest floor   = {bare:.2f} × floor ({fmt(pytest_floors[n])}: pytest alone on "
                  f"{checks_in(runs[0].summary)} checks); the run is {runs[0].wall / pytest_floors[n]:.2f} × that"
                  + ("; the target is below what pytest itself costs here" if bare > 2 else ""))
        if len(e2e) > 1:
            small, large = min(e2e), max(e2e)
            grow = results["sizes"][large]["hostnames"] / results["sizes"][small]["hostnames"]
            time_x = e2e[large][0].wall / e2e[small][0].wall
            memory_x = e2e[large][0].peak_rss_mib / e2e[small][0].peak_rss_mib
            linear = time_x <= grow * 1.1 and memory_x <= grow * 1.1
            print(f"scale N={small} → N={large}: ×{grow:.0f} hostnames, ×{time_x:.1f} wall, ×{memory_x:.1f} peak "
                  f"memory ({'linear or better' if linear else 'worse than linear'})")
        pyt = e2e[mid][0]
        print(f"pytest --phase preflight, N={mid}: {fmt(pyt.wall)} wall, {fmt(pyt.blocked)} waiting on evidence, "
              f"overhead {fmt(pyt.overhead)} (collection {fmt(pyt.collection)}, reporting {fmt(pyt.reporting)}); "
              f"{pyt.summary}")
        if pyt.html_bytes is not None:
            print(f"HTML report: {pyt.html_bytes / 1e6:.1f} MB, opened by headless Chromium in {fmt(pyt.html_open)}")
        report_weight.report(results)
    if post is not None:
        results["postdeploy"] = post.__dict__
        print(f"postdeploy, N={mid}, after a real cook ({fmt(post.cook)}, {post.cook_status}): ready after "
              f"{fmt(post.wait)} in {post.rounds} poll rounds (mean round {fmt(post.round_mean)}); "
              f"one round once deployed {fmt(post.steady)}; SSH connections {post.ssh_connections} for "
              f"{post.servers} server(s); at most {post.commands_per_server_round} remote commands per server per "
              f"round" + (f"; {post.pending} items still pending" if post.pending else ""))
        print(f"N={mid:<3} postdeploy round = {fmt(post.steady)} (one poll round once deployed, {post.items} items; "
              "target ≤ 1 s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
    return 0


def _memory_gib() -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024)
    return 0


if __name__ == "__main__":
    sys.exit(main())
