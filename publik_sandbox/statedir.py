"""The state directory: everything the sandbox writes lives there, on a tmpfs of its own.

PostgreSQL's initdb and CREATE DATABASE, and the removal of thousands of small files, are slow on
a disk mounted with `discard` (measured: initdb 1.0 s → 0.33 s, CREATE DATABASE 210 ms → 7 ms on
tmpfs). A tmpfs also makes `down` exact: unmounting drops every file at once. The mount's source
is named, so `down` only ever unmounts a tmpfs that the sandbox mounted.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

TMPFS_SOURCE = "publik-sandbox"
MARKER = "run/info.json"


def _mounts() -> list[tuple[str, str, str]]:
    out = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        source, target, fstype, *_ = line.split()
        out.append((source, target.replace("\\040", " "), fstype))
    return out


def is_sandbox_mount(path: Path) -> bool:
    target = str(path)
    return any(src == TMPFS_SOURCE and tgt == target and fs == "tmpfs" for src, tgt, fs in _mounts())


def looks_like_state_dir(path: Path) -> bool:
    """True for a missing or empty directory, our tmpfs, or a directory holding our marker."""
    if not path.exists():
        return True
    if not path.is_dir():
        return False
    return is_sandbox_mount(path) or (path / MARKER).exists() or not any(path.iterdir())


def mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if is_sandbox_mount(path):
        return
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", TMPFS_SOURCE, str(path)],
                   check=True, timeout=30, capture_output=True)


def unmount(path: Path) -> None:
    """Unmount our tmpfs; lazily if something (a shell's cwd) still holds it."""
    if not is_sandbox_mount(path):
        return
    result = subprocess.run(["umount", str(path)], timeout=30, capture_output=True)
    if result.returncode != 0:
        subprocess.run(["umount", "-l", str(path)], timeout=30, capture_output=True, check=True)
