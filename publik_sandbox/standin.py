"""Install the `hobo-manage` stand-in (hobo_manage.py), also as the other Django services' manage
commands (for `list_tenants`), and the directories it writes to.

The script runs as the hobo user through sudo, like the real command, so its log and the agent
queue are owned by hobo; everything else under the state directory stays root's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from publik_acceptance.config.catalogue import SERVICE_KINDS
from publik_sandbox.config import StatePaths

SCRIPT = Path(__file__).with_name("hobo_manage.py")


def install(paths: StatePaths, present: bool = True) -> None:
    """Directories for the stand-in and the agent queue; the script itself unless `present` is False."""
    for directory in (paths.standin, paths.standin / "hung", paths.agent_queue):
        directory.mkdir(parents=True, exist_ok=True)
        shutil.chown(directory, "hobo", "hobo")
        directory.chmod(0o755)
    paths.invocations.touch()
    shutil.chown(paths.invocations, "hobo", "hobo")
    paths.invocations.chmod(0o644)
    paths.bin.mkdir(parents=True, exist_ok=True)
    paths.bin.chmod(0o755)
    text = SCRIPT.read_text(encoding="utf-8").replace('"@STATE@"', json.dumps(str(paths.state)))
    # The same script answers `list_tenants` as each Django service's manage command (it tells them
    # apart by its name); only hobo-manage cooks, and only it is left out by hobo-manage-missing.
    for name in manage_commands():
        if name == paths.hobo_manage.name and not present:
            continue
        (paths.bin / name).write_text(text, encoding="utf-8")
        (paths.bin / name).chmod(0o755)


def manage_commands() -> list[str]:
    """The manage commands installed in `$STATE/bin`: hobo-manage and every Django service's."""
    return [kind.manage for kind in SERVICE_KINDS.values() if not kind.per_tenant_database]


def invocations(paths: StatePaths) -> list[dict]:
    """The stand-in's invocation log, one dict per call (empty when it never ran)."""
    try:
        lines = paths.invocations.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def cook_invocations(paths: StatePaths) -> list[dict]:
    return [entry for entry in invocations(paths) if entry.get("argv", [None, None])[1:2] == ["cook"]]


def hung_cooks(paths: StatePaths) -> list[int]:
    """PIDs of stand-ins hanging under the cook-hangs fault (each wrote its own PID file)."""
    out = []
    for path in (paths.standin / "hung").glob("*"):
        if path.name.isdigit():
            out.append(int(path.name))
    return out
