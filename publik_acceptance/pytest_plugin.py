"""The pytest front door: options, the Plan, phase order and parametrisation over Targets.

Bad input (environment, recipe) ends the run with pytest's usage-error exit code 4 and one line
naming the file and key. Phases run in deployment order whatever the file order.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import itertools
import shlex
import signal
import threading
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from publik_acceptance import sharding
from publik_acceptance.config.errors import ConfigError
from publik_acceptance.config.secrets import secret_refs
from publik_acceptance.deploy.result import CookResult
from publik_acceptance.evidence import log as evidence_log
from publik_acceptance.evidence.federation import login_entries, login_views
from publik_acceptance.evidence.preflight import PreflightEvidence
from publik_acceptance.evidence.prober import Prober
from publik_acceptance.evidence.probes.remote import RemoteError, SshPool
from publik_acceptance.evidence.testinfra_host import SuiteHosts, role_for
from publik_acceptance.judge.deadline import RunDeadline, parse_seconds
from publik_acceptance.judge.gate import DESELECTED, NOT_COLLECTED, SELECTED, Gate
from publik_acceptance.judge.postdeploy import Outcome, PostdeployEvidence
from publik_acceptance.plan import Plan, Target, load_plan

# The change-ticket report (HTML, JUnit, JSON): its own plugin, loaded with this one.
pytest_plugins = ("publik_acceptance.report.plugin",)

PHASES = ("preflight", "deploy", "postdeploy")
PLAN_KEY = pytest.StashKey[Plan]()
SESSION_KEY = pytest.StashKey["RunContext"]()
# What signal.signal() returns and takes back: the handler in place before ours.
SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None
SIGTERM_KEY = pytest.StashKey[SignalHandler]()
DEADLINE_KEY = pytest.StashKey["RunDeadline | None"]()
SUITE_DIR = Path(__file__).resolve().parent.parent / "tests"
# A site's own checks (README "Site checks"): environment key site_checks, else this folder when it exists.
SITE_DIR = SUITE_DIR.parent / "site_checks"
SITE_PHASES = ("preflight", "postdeploy")  # a site's checks never replace the cook
SITE_KEY = pytest.StashKey["Path | None"]()
# The preflight's own checks in the order their evidence comes in, so that pytest's per-check work
# overlaps the network's instead of waiting on it: the recipe's need none, DNS is in at collection,
# the SSH facts and then the database facts come next (two commands per server, whatever the fleet
# size), TLS+HTTP last (one probe per address: the longest to gather on a large fleet). A site's
# preflight checks come after these.
PREFLIGHT_ORDER = ("test_recipe.py", "test_dns.py", "test_hosts.py", "test_database.py", "test_tls.py",
                   "test_http.py")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("publik", "Publik deployment acceptance")
    group.addoption("--env", dest="publik_env", metavar="NAME_OR_PATH",
                    help="environment: NAME means environments/NAME.yml, or a path to a YAML file")
    group.addoption("--phase", dest="publik_phase", default="preflight",
                    choices=(*PHASES, "all"), help="which phase(s) to run (default: preflight)")
    group.addoption("--ticket", dest="publik_ticket", metavar="REF", help="change ticket reference for the report")
    group.addoption("--yes", dest="publik_yes", action="store_true",
                    help="confirm the cook on a protected platform without asking")
    group.addoption("--dry-run", dest="publik_dry_run", action="store_true",
                    help="run everything but the cook; show what would be uploaded and run")
    group.addoption("--check-anyway", dest="publik_check_anyway", action="store_true",
                    help="with --phase all: run the postdeploy checks even if the cook did not run")
    group.addoption("--deadline", dest="publik_deadline", metavar="SECONDS", type=parse_seconds,
                    help="deadline of the whole run, from its start: past it, remaining checks fail at once "
                         "and the cook is not started (default: the environment's run.deadline, or 3600)")
    group.addoption("--resume", dest="publik_resume", action="store_true",
                    help="cook again over tenants of this recipe that already exist (a partial or earlier "
                         "deployment: cook is get-or-create); anything else found before the cook still closes "
                         "the gate")
    group.addoption("--break-lock", dest="publik_break_lock", action="store_true",
                    help="break the cook lock on the hobo server if it is stale (its SSH session and its cook "
                         "are gone); a live lock is never broken")


def pytest_configure(config: pytest.Config) -> None:
    for phase in PHASES:
        config.addinivalue_line("markers", f"{phase}: test of the {phase} phase (set from the directory)")
    config.addinivalue_line("markers", "services(*kinds): run only for Targets of these service kinds")
    config.addinivalue_line("markers", "role(*roles): the server roles a check using `host` runs on (a role under "
                            "servers, or a service kind: the role holding its tenants); default: every role")
    # After every plugin: our `host` must win over pytest-testinfra's own (the last registered wins).
    config.pluginmanager.import_plugin("publik_acceptance.site_fixtures")
    config.addinivalue_line("markers", "report(column=None, wait=None, cook_log=False): what the change-ticket "
                            "report shows of this check: its column in the per-service table, the postdeploy wait "
                            "(tenant, database, page) whose polls it shows, or (cook_log=True) the cook's log")
    name = config.getoption("publik_env")
    split = _split_path_option(config)
    if split and config.rootpath != SUITE_DIR.parent:
        option, value = split
        raise pytest.UsageError(
            f"{option} {value}: write {option}={value} (with '='), or use a path inside {SUITE_DIR.parent}; "
            "pytest reads a separate path argument before it knows the option and picks the wrong root directory"
        )
    if name and PLAN_KEY not in config.stash:  # the report plugin may have loaded it to name its files
        try:
            config.stash[PLAN_KEY] = load_plan(name)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
    plan = config.stash.get(PLAN_KEY, None)
    config.stash[DEADLINE_KEY] = RunDeadline.for_run(config.getoption("publik_deadline"),
                                                     plan.environment if plan is not None else None)
    site = site_dir(config)
    if name and site is not None and config.args_source == pytest.Config.ArgsSource.TESTPATHS:
        # No paths given: the site's checks run with ours (given paths narrow the run, as -k does). The folder
        # itself, so that test ids keep their phase (preflight/test_x.py) and a site conftest.py is honoured.
        config.args.append(str(site))
    if name:
        config.pluginmanager.register(GateRecorder(config), "publik-gate")
        _sigterm_as_interrupt(config)
        if config.pluginmanager.hasplugin("xdist"):  # -n: the preflight's checks spread over processes
            deadline = config.stash[DEADLINE_KEY]
            sharding.register(config, run_context(config).preflight, selected_phases(config),
                              deadline.seconds if deadline is not None else 3600.0)
    elif _runs_suite(config):
        get_plan(config)


def _split_path_option(config: pytest.Config) -> tuple[str, str] | None:
    """Our path-valued options given as two words (`--env /x.yml`), which mislead pytest's early parse."""
    args = list(config.invocation_params.args)
    for option, value in itertools.pairwise(args):
        if option in ("--env", "--reports-dir"):
            return option, value
    return None


def _runs_suite(config: pytest.Config) -> bool:
    """Whether the invocation collects anything under tests/ (which needs --env)."""
    base = config.invocation_params.dir
    roots = [root for root in (SUITE_DIR, site_dir(config)) if root is not None]
    for arg in config.args:
        path = (base / arg.split("::")[0]).resolve()
        if any(path == root or root in path.parents or path in root.parents for root in roots):
            return True
    return False


def site_dir(config: pytest.Config) -> Path | None:
    """The folder of the site's own checks: the environment's site_checks, else site_checks/ beside
    tests/ when it exists (None: no site checks)."""
    if SITE_KEY not in config.stash:
        plan = config.stash.get(PLAN_KEY, None)
        chosen = plan.environment.site_checks if plan is not None else None
        path = (chosen or SITE_DIR).resolve()
        found = path if path.is_dir() else None
        if plan is None:
            return found  # not kept: the Plan, loaded later, may name another folder
        config.stash[SITE_KEY] = found
    return config.stash[SITE_KEY]


def preflight_dirs(config: pytest.Config) -> list[Path]:
    """Where the preflight checks the gate waits on live: ours, and the site's."""
    site = site_dir(config)
    return [SUITE_DIR / "preflight", *([site / "preflight"] if site and (site / "preflight").is_dir() else [])]


def get_plan(config: pytest.Config) -> Plan:
    try:
        return config.stash[PLAN_KEY]
    except KeyError:
        raise pytest.UsageError("the suite needs an environment: pytest --env NAME_OR_PATH "
                                "(NAME means environments/NAME.yml)") from None


def selected_phases(config: pytest.Config) -> tuple[str, ...]:
    """`deploy` always brings the preflight along: the cook is never run without its gate."""
    phase = config.getoption("publik_phase")
    return {"all": PHASES, "deploy": ("preflight", "deploy")}.get(phase, (phase,))


def phase_of(path: Path, site: Path | None = None) -> str | None:
    """The phase of a check file: tests/<phase>/…, or <site>/<phase>/… for the site's own checks."""
    return _phase_of(path, site)


@functools.lru_cache(maxsize=1024)
def _phase_of(path: Path, site: Path | None) -> str | None:
    # Cached: asked for each item and each of its three reports, and resolve() is a system call per part
    # (a third of the plugin's per-check cost before, in the profile of a 2,300-check preflight).
    resolved = path.resolve()
    for root, phases in ((SUITE_DIR, PHASES), (site, SITE_PHASES)):
        if root is None:
            continue
        try:
            relative = resolved.relative_to(root)
        except ValueError:
            continue
        return relative.parts[0] if relative.parts and relative.parts[0] in phases else None
    return None


def _targets_for(metafunc: pytest.Metafunc, plan: Plan) -> list[Target]:
    marker = metafunc.definition.get_closest_marker("services")
    kinds = set(marker.args) if marker else None
    return sorted((t for t in plan.targets if kinds is None or t.kind in kinds), key=lambda t: t.id)


class RunContext:
    """Connections and evidence shared by the whole run: one SSH connection per server, one pool."""

    def __init__(self, plan: Plan, config: pytest.Config) -> None:
        self.plan = plan
        self.config = config
        self.pool = SshPool(plan.environment)
        self.prober = Prober(plan.environment)
        self.hosts = SuiteHosts(plan.environment, self.pool)  # testinfra Hosts of site checks, on the pool
        self.preflight = PreflightEvidence(plan, self.pool, self.prober, progress=self.say)
        self.postdeploy = PostdeployEvidence(plan, self.pool, self.prober, self.preflight, progress=self.say)
        self.gate = Gate(plan.environment.waivers, resume=bool(config.getoption("publik_resume")))
        self.cook: CookResult | None = None

    def say(self, line: str) -> None:
        """A line on the operator's console now, past pytest's capture (progress of long waits, the cook).
        Only from the main thread: pytest's terminal is not thread-safe."""
        if threading.current_thread() is not threading.main_thread():
            return
        reporter = self.config.pluginmanager.getplugin("terminalreporter")
        capture = self.config.pluginmanager.getplugin("capturemanager")
        if reporter is None or capture is None:
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)

    def close(self) -> None:
        self.prober.close()
        self.pool.close()


def run_context(config: pytest.Config) -> RunContext:
    if SESSION_KEY not in config.stash:
        config.stash[SESSION_KEY] = RunContext(get_plan(config), config)
    return config.stash[SESSION_KEY]


def deadline_refusal(config: pytest.Config, what: str) -> str | None:
    """Why `what` must not start: the run's deadline has passed (None while there is time left)."""
    deadline = config.stash.get(DEADLINE_KEY, None)
    return deadline.refusal(what) if deadline is not None else None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if PLAN_KEY in item.config.stash:  # a suite run: its checks record evidence for the report
        evidence_log.start()
    refusal = deadline_refusal(item.config, "this check")
    if refusal:  # before any fixture: nothing of this check runs, nothing waits
        pytest.fail(refusal, pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    if call.excinfo is not None and isinstance(call.excinfo.value, RemoteError):
        # Its message is the whole story (server, what failed, the to-do): no traceback around it.
        report.longrepr = str(call.excinfo.value)
    if PLAN_KEY in item.config.stash and (call.when == "call" or (call.when == "setup" and report.outcome != "passed")):
        # Only in a suite run: any other pytest run (our self-tests, a user's own under -n) has no report of
        # ours to carry it to, and pytest-xdist cannot send these dataclasses (sharding.py does, for ours).
        report.publik_evidence = evidence_log.collect()
    return report


class GateRecorder:
    """Feeds every preflight report to the gate (registered only when an environment is given), and
    tells the gate which preflight checks the Plan calls for, whatever the command line kept."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.deselected: set[str] = set()
        self.found: list[tuple[str, Path]] | None = None  # what collection found, before any filtering

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> Generator[None, None, None]:
        # Before -k, -m, --deselect, --lf and the phase selection take anything out.
        self.found = [(item.nodeid, item.path) for item in items]
        return (yield)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected.update(item.nodeid for item in items)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> None:
        """A whole preflight resolves every hostname at collection (addresses are test ids): ask now, in
        the background, while pytest imports and collects the check modules; and when nothing on the
        command line narrows the preflight, go on to gather every category (it will need them all)."""
        config = self.config
        if "preflight" not in selected_phases(config) or not _covers_preflight(config) or sharding.is_worker(config):
            return
        whole = not _narrowing(config, maxfail=False) and not config.option.collectonly \
            and deadline_refusal(config, "the preflight") is None
        evidence = run_context(config).preflight
        threading.Thread(target=_resolve, args=(evidence, whole), name="preflight-dns", daemon=True).start()

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if "preflight" not in selected_phases(self.config) or sharding.is_worker(self.config):
            return  # a worker's gate decides nothing: the main process's gets every report (sharding.py)
        selected = {item.nodeid for item in session.items}
        found = self._found_preflight()
        expected = {nodeid: SELECTED if nodeid in selected else DESELECTED if nodeid in self.deselected
                    else NOT_COLLECTED for nodeid in (found if found is not None else preflight_node_ids(session))}
        context = run_context(self.config)
        context.gate.expect(expected, _narrowing(self.config))
        if (expected and all(how == SELECTED for how in expected.values()) and not self.config.option.collectonly
                and deadline_refusal(self.config, "the preflight") is None):
            # The whole preflight runs: it needs every category of evidence, so gathering starts now rather
            # than at the first check, and the network's wait overlaps pytest's own per-check work (a narrowed
            # run stays lazy: `-k test_dns` opens no SSH connection).
            context.preflight.start()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # location[0] is relative to the root directory (report.fspath is relative to an initial path for a
        # site folder outside it)
        if phase_of(self.config.rootpath / report.location[0], site_dir(self.config)) == "preflight":
            run_context(self.config).gate.record(report)


    def _found_preflight(self) -> set[str] | None:
        """The preflight checks this collection found before any filtering, when it provably found them
        all: every preflight folder collected whole (no paths narrowing it) and every check file in them
        gave checks (one that failed to collect, skipped itself or that --lf left out gave none). Else
        None: they are collected afresh (preflight_node_ids), as every run did before (~0.1 s a 1,000)."""
        if self.found is None or not _covers_preflight(self.config):
            return None
        files = {path for folder in preflight_dirs(self.config) for path in folder.rglob("test_*.py")}
        ids: set[str] = set()
        seen: set[Path] = set()
        for nodeid, path in self.found:
            if path in files:
                ids.add(nodeid)
                seen.add(path)
        return ids if seen == files else None


def preflight_node_ids(session: pytest.Session) -> set[str]:
    """Every preflight check the Plan calls for: tests/preflight and the site's preflight/ collected afresh,
    so that neither the paths given nor -k, -m, --deselect, --lf or a plugin's filtering can shrink the set."""
    ids: set[str] = set()
    for path in sorted(p for folder in preflight_dirs(session.config) for p in folder.rglob("test_*.py")):
        module = pytest.Module.from_parent(session, path=path)
        try:
            ids.update(item.nodeid for item in _items(module))
        except (Exception, pytest.skip.Exception):
            # A module that cannot be collected (or skips itself) runs none of its checks: expecting the
            # module itself, which never reports an outcome, keeps the gate closed and names it.
            ids.add(module.nodeid)
    return ids


def _items(node: pytest.Collector) -> Iterator[pytest.Item]:
    for child in node.collect():
        if isinstance(child, pytest.Item):
            yield child
        elif isinstance(child, pytest.Collector):
            yield from _items(child)


def _resolve(evidence: PreflightEvidence, then_gather: bool) -> None:
    # A failure here is not lost: collection asks again in the main thread, and reports it there.
    with contextlib.suppress(Exception):
        if then_gather:  # the SSH facts need no DNS: they start now, TLS+HTTP as soon as DNS is in
            evidence.start()
        evidence.resolve()


def _covers_preflight(config: pytest.Config) -> bool:
    """Whether the paths given (or testpaths) hold every preflight folder whole."""
    base = config.invocation_params.dir
    paths = [(base / arg.split("::")[0]).resolve() for arg in config.args]
    return all(any("::" not in arg and (p == preflight or p in preflight.parents)
                   for arg, p in zip(config.args, paths, strict=True)) for preflight in preflight_dirs(config))


def _narrowing(config: pytest.Config, maxfail: bool = True) -> tuple[str, ...]:
    """The options of this command line that can leave preflight checks out, as the operator typed them
    (maxfail=False: only those that deselect, not -x which stops the run)."""
    option = config.option
    found = [f"-k {shlex.quote(option.keyword)}"] if getattr(option, "keyword", "") else []
    found += [f"-m {shlex.quote(option.markexpr)}"] if getattr(option, "markexpr", "") else []
    found += [f"--deselect {shlex.quote(d)}" for d in getattr(option, "deselect", None) or ()]
    found += [flag for flag, dest in (("--lf", "lf"), ("--sw", "stepwise")) if getattr(option, dest, False)]
    stop = getattr(option, "maxfail", 0) if maxfail else 0
    found += ["-x" if stop == 1 else f"--maxfail={stop}"] if stop else []
    if not _covers_preflight(config):
        found.append("paths " + " ".join(shlex.quote(a) for a in config.args))
    return tuple(found)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """The collected checks, the Plan and the evidence live until the end of the run: moved out of the
    cyclic garbage collector's sight (gc.freeze), its full passes no longer walk them again and again.
    In the profile of a 2,300-check preflight they cost 0.4 s during the checks and 0.4 s at exit. Not
    undone at the end: a suite run is a process of its own, and thawing would bring the exit cost back."""
    if PLAN_KEY in session.config.stash:
        gc.freeze()


def pytest_unconfigure(config: pytest.Config) -> None:
    if SIGTERM_KEY in config.stash:
        signal.signal(signal.SIGTERM, config.stash[SIGTERM_KEY])
    if SESSION_KEY in config.stash:
        config.stash[SESSION_KEY].close()


def _sigterm_as_interrupt(config: pytest.Config) -> None:
    """SIGTERM (a cancelled CI job) is handled like Ctrl-C: the cook stops its remote side, removes the
    recipe and says so, instead of the process dying with the lock and the password file left behind."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt("SIGTERM")

    config.stash[SIGTERM_KEY] = signal.signal(signal.SIGTERM, interrupt)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    phase = phase_of(Path(str(metafunc.definition.path)), site_dir(metafunc.config))
    if phase is None:
        return
    plan = get_plan(metafunc.config)
    names = metafunc.fixturenames
    if "target" in names and "server_role" in names:
        # A check about a Target on its server (a site check using `host`): once per Target, on its server.
        targets = _targets_for(metafunc, plan)
        metafunc.parametrize(("target", "server_role"), [(t, t.server) for t in targets], ids=[t.id for t in targets])
    elif "target" in names and "login_entry" not in names and "login_view" not in names:
        targets = _targets_for(metafunc, plan)
        metafunc.parametrize("target", targets, ids=[t.id for t in targets])
    if "login_entry" in names:  # each service's anonymous login, w.c.s.'s back office as its own
        entries = login_entries(plan)
        metafunc.parametrize(("target", "login_entry"), [(e.target, e) for e in entries], ids=[e.id for e in entries])
    if "login_view" in names:  # where the real login shows a logged-in user: agent portals, w.c.s. back offices
        views = login_views(plan)
        metafunc.parametrize(("target", "login_view"), [(v, v) for v in views], ids=[v.id for v in views])
    if "frontend" in names:
        if phase in selected_phases(metafunc.config):
            evidence = run_context(metafunc.config).preflight  # DNS now: addresses become test ids
            frontends = [f for t in _targets_for(metafunc, plan) for f in evidence.frontends_of(t)]
        else:
            frontends = []
        metafunc.parametrize("frontend", frontends, ids=[f.id for f in frontends])
    if "secret" in names:
        refs = list(secret_refs(plan.environment))
        metafunc.parametrize("secret", refs, ids=[ref.key for ref in refs])
    if "instance" in names:
        instances = [i.name for i in plan.environment.instances]
        metafunc.parametrize("instance", instances, ids=instances)
    if "django_database" in names:
        pairs = sorted({(t.kind, t.database) for t in plan.targets if t.schema})
        metafunc.parametrize("django_database", pairs, ids=[f"{k}|{db}" for k, db in pairs])
    if "server_role" in names and "target" not in names:
        roles = _roles_for(metafunc, plan)
        metafunc.parametrize("server_role", roles, ids=[f"{r}|{plan.environment.servers[r].label}" for r in roles])


def _roles_for(metafunc: pytest.Metafunc, plan: Plan) -> list[str]:
    """Every server role, or those a `@pytest.mark.role(…)` names (an unknown name is refused once the
    check is collected: see _check_roles)."""
    marker = metafunc.definition.get_closest_marker("role")
    if marker is None:
        return sorted(plan.environment.servers)
    roles = (role_for(plan.environment, name) for name in marker.args if isinstance(name, str))
    return sorted({role for role in roles if role is not None})


def _check_roles(item: pytest.Item) -> None:
    """A role name that is neither a server role nor a service kind stops the run, naming the check (exit 4):
    a typo must not silently check nothing."""
    marker = item.get_closest_marker("role")
    plan = item.config.stash.get(PLAN_KEY, None)
    if marker is None or plan is None:
        return
    for name in marker.args:
        if not isinstance(name, str) or role_for(plan.environment, name) is None:
            raise pytest.UsageError(
                f"{item.nodeid.split('[')[0]}: @pytest.mark.role({name!r}): no such server role under servers: "
                f"({', '.join(sorted(plan.environment.servers))}) and not a service kind")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The folder of a phase this run does not select is not collected at all: its checks would only be
    deselected (a preflight at N = 50 collected 1,952 deploy and postdeploy checks for nothing)."""
    if PLAN_KEY not in config.stash or not collection_path.is_dir():
        return None
    phase = phase_of(collection_path, site_dir(config))
    return True if phase is not None and phase not in selected_phases(config) else None


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the selected phases, in deployment order; mark each item with its phase."""
    wanted = selected_phases(config)
    order = {phase: i for i, phase in enumerate(PHASES)}
    kept: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    site = site_dir(config)
    ranks: dict[Path, tuple[int, int]] = {}  # each file's place in the run: thousands of checks share a few files
    for item in items:
        _check_roles(item)
        path = Path(str(item.path))
        phase = phase_of(path, site)
        # Asked only where it matters: resolve() is a system call per part of the path.
        in_site = phase in (None, "postdeploy") and site is not None and site in path.resolve().parents
        if path not in ranks:
            ranks[path] = _run_order(path, phase, order)
        if phase is None:
            # In the site's folder, only preflight/ and postdeploy/ hold checks (the rest: its helpers).
            (deselected if in_site else kept).append(item)
            continue
        item.add_marker(getattr(pytest.mark, phase))
        if phase == "postdeploy" and in_site:
            _waits_for_deployment(item)
        (kept if phase in wanted else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    kept.sort(key=lambda item: ranks[Path(str(item.path))])
    items[:] = kept


def _waits_for_deployment(item: pytest.Item) -> None:
    """A site's postdeploy check runs once the deployment has settled, and is skipped when this run's cook
    did not run, as ours are through `deployment`, whether or not it asks for that fixture. Added to its
    fixtures here rather than by an autouse fixture, which every check of the run would pay for."""
    names = getattr(item, "fixturenames", None)
    if names is not None and "deployment" not in names:
        names.append("deployment")


def _run_order(path: Path, phase: str | None, order: dict[str, int]) -> tuple[int, int]:
    """Deployment order of phases; within the preflight, ours in PREFLIGHT_ORDER, then the site's."""
    rank = 0
    if phase == "preflight":
        rank = PREFLIGHT_ORDER.index(path.name) if _our_preflight_file(path) else len(PREFLIGHT_ORDER)
    return order.get(phase or "", -1), rank


def _our_preflight_file(path: Path) -> bool:
    """One of tests/preflight's files named in PREFLIGHT_ORDER, wherever the checkout is (symlinks resolved)."""
    return path.name in PREFLIGHT_ORDER and path.resolve().parent == SUITE_DIR / "preflight"


@pytest.fixture(scope="session")
def plan(pytestconfig: pytest.Config) -> Plan:
    """The run's Plan: the environment (--env), its recipes, the Targets (one service tenant of one
    instance each) the checks are parametrised over, and the drift between recipes and expected hostnames."""
    return get_plan(pytestconfig)


@pytest.fixture(scope="session")
def run(pytestconfig: pytest.Config) -> RunContext:
    """The run's shared state: the Plan, one SSH pool and one prober for every check, the preflight
    and postdeploy evidence, the gate the cook waits on and the cook's result once it ran."""
    return run_context(pytestconfig)


@pytest.fixture(scope="session")
def preflight(run: RunContext) -> PreflightEvidence:
    """The preflight evidence (DNS, TLS and HTTP per frontend, server, skeleton and database facts), each
    category gathered once per run, for every Target at once, the first time a check asks for it."""
    return run.preflight


@pytest.fixture(scope="session")
def deployment(run: RunContext) -> Outcome:
    """The settled postdeploy state: waits (bounded by postdeploy.deadline) on first use.

    After a cook in this run, postdeploy runs only if the cook ran; alone (--phase postdeploy) or with
    --check-anyway it checks whatever is there."""
    config = run.config
    if "deploy" in selected_phases(config) and not config.getoption("publik_check_anyway"):
        cook = run.cook
        if cook is None or not cook.cooked:
            status = cook.status if cook else "not run"
            pytest.skip(f"not run: the cook {status} ({run.gate.summary().splitlines()[0].rstrip(':')}); "
                        "use --phase postdeploy (or --check-anyway) to check the platform as it is")
    return run.postdeploy.outcome()

