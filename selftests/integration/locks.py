"""The cook lock of the sandbox, as the suite keeps it on the hobo server: where it is, and a planted one."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from selftests.rig import Rig


def lock_path(rig: Rig) -> Path:
    """The sandbox's cook.lock_file: a directory made with mkdir inside a root-only directory."""
    return rig.paths.run / "publik-acceptance" / "cook.lock"


def leftovers(rig: Rig) -> list[Path]:
    """Whatever the cook left in the upload directory (recipe files, private directories)."""
    return sorted(rig.paths.upload.rglob("*"))


def start_time(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(") ", 1)[1].split()[19]


def plant_lock(rig: Rig, *, session_pid: int, session_start: str, operator: str = "someone@elsewhere",
               ticket: str = "CHG-1", age: float = 600, token: str = "0123456789abcdef", extra: str = "") -> Path:
    """A lock as another run of the suite leaves it: a directory with its holder record."""
    lock = lock_path(rig)
    lock.parent.mkdir(mode=0o700, exist_ok=True)
    lock.mkdir(mode=0o700)
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    started = int(time.time() - age)
    (lock / "holder").write_text(
        f"platform=sandbox\nticket={ticket}\noperator={operator}\n"
        f"started={time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(started))}\nclient_pid=4242\n{extra}"
        f"token={token}\nstarted_epoch={started}\nboot_id={boot}\nsession_pid={session_pid}\n"
        f"session_start={session_start}\nserver=hobo\n")
    return lock


def dead_pid() -> int:
    """The PID of a process that has ended (a session that is gone)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid
