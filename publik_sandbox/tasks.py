"""invoke tasks for the sandbox; the root tasks.py adds `ns` as the `sandbox` collection."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from invoke import Collection, Context, Exit, task

if not __package__:  # loaded as a plain file (`invoke --search-root publik_sandbox`)
    # invoke put this directory first on sys.path; take it off so our module names cannot shadow
    # others, and import the package from the checkout instead.
    _here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    sys.path.insert(0, str(_here.parent))

from publik_sandbox.config import DEFAULT_STATE_DIR, STATE_DIR_ENV
from publik_sandbox.faults import CATALOGUE, catalogue_lines
from publik_sandbox.lifecycle import Sandbox, SandboxError

_STATE_HELP = f"state directory (default ${STATE_DIR_ENV} or {DEFAULT_STATE_DIR})"


def _sandbox(state_dir: str | None, instances: int = 1, **overrides: object) -> Sandbox:
    # config=None: a fresh configuration from these values (and no override can stand for a whole config)
    return Sandbox(state_dir=state_dir or None, instances=instances, config=None, **overrides)


def _delay_range(text: str) -> tuple[float, float]:
    try:
        low, _, high = text.partition("-")
        values = (float(low), float(high or low))
    except ValueError:
        raise Exit(f"--deploy-delay: expected MIN-MAX in seconds (e.g. 0.5-5), got {text!r}") from None
    if not 0 <= values[0] <= values[1]:
        raise Exit(f"--deploy-delay: expected 0 <= MIN <= MAX, got {text!r}")
    return values


@task(
    iterable=["fault"],
    help={
        "fault": "NAME[:TARGET] to break the sandbox with (repeatable; see `inv sandbox.faults`)",
        "instances": "how many collectivités to generate recipes for (moncompte, ville02, …)",
        "state-dir": _STATE_HELP,
        "deploy-delay": "MIN-MAX seconds the agent waits before deploying each service (default 0.5-2)",
        "latency-ms": "add this many ms to every new TCP connection to the frontends and every DNS answer "
                      "(a delaying proxy, as over a real network; default 0)",
        "bastion": "servers reachable only through a bastion (a second sshd); the environment file gets an "
                   "ssh_config with ProxyJump",
    },
)
def up(c: Context, fault: list[str] | None = None, instances: int = 1, state_dir: str | None = None,
       deploy_delay: str | None = None, latency_ms: float = 0.0, bastion: bool = False) -> None:
    """Start the sandbox (DNS, two TLS frontends, backends, PostgreSQL, SSH, agent), faults applied.

    Brings an older sandbox in the same state directory down first. Writes
    environments/sandbox.yml, then run the suite with `--env sandbox`.
    """
    if instances < 1:
        raise Exit("--instances must be at least 1")
    if not 0 <= latency_ms <= 5000:
        raise Exit(f"--latency-ms: expected 0 to 5000 ms, got {latency_ms:g}")
    overrides: dict[str, object] = {"deploy_delay": _delay_range(deploy_delay)} if deploy_delay else {}
    if latency_ms:
        overrides["latency_ms"] = float(latency_ms)
    if bastion:
        overrides["bastion"] = True
    sandbox = _sandbox(state_dir, instances, **overrides)
    try:
        status = sandbox.up(faults=fault or [])
    except SandboxError as exc:
        raise Exit(f"sandbox.up: {exc}") from None
    faults = ", ".join(f"{f['name']}:{f['target']}" for f in status["faults"]) or "none"
    latency = f", +{latency_ms:g} ms per connection and DNS answer" if latency_ms else ""
    latency += ", servers behind a bastion" if bastion else ""
    print(f"sandbox up in {status['up_seconds']} s — {len(status['instances'])} instance(s){latency}, "
          f"state {status['state_dir']}, faults: {faults}")
    if status.get("replaced"):
        print(f"(the sandbox that was running in {status['state_dir']} was brought down first)")
    print(f"environment file: {status['env_file']}")
    shown = status["instances"][:10]
    for instance in shown:
        print(f"instance {instance['name']}: recipe {instance['recipe']}")
    if len(status["instances"]) > len(shown):
        print(f"… and {len(status['instances']) - len(shown)} more instances (recipes in the same directory)")


@task(help={"state-dir": _STATE_HELP})
def down(c: Context, state_dir: str | None = None) -> None:
    """Stop every sandbox process (by PID), delete its users and files, remove the state directory."""
    try:
        _sandbox(state_dir).down()
    except SandboxError as exc:
        raise Exit(f"sandbox.down: {exc}") from None
    print("sandbox down")


@task(name="status", help={"json": "print JSON instead of a table", "state-dir": _STATE_HELP})
def status_(c: Context, json_: bool = False, state_dir: str | None = None) -> None:
    """Each component with its address and state, the active faults and the cook invocations."""
    status = _sandbox(state_dir).status()
    if json_:
        print(json.dumps(status, indent=2))
        return
    print(f"state dir: {status['state_dir']} ({'up' if status['up'] else 'down'})")
    for component in status["components"]:
        print(f"  {component['name']:<11} {component['address']:<40} {component['state']}")
    for fault in status["faults"]:
        print(f"  fault {fault['name']}:{fault['target']} on {', '.join(fault['hostnames']) or fault['instance']}")
    print(f"  cook invocations: {len(status['cook_invocations'])}")


@task
def faults(c: Context) -> None:
    """List the fault catalogue: name, phase it breaks, [default target], what it breaks."""
    for line in catalogue_lines():
        print(line)
    print(f"({len(CATALOGUE)} faults; use --fault NAME[:TARGET] with sandbox.up)")


ns = Collection("sandbox", up, down, status_, faults)
