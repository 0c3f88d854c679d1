"""System users of the Publik services: create the missing ones, later delete exactly those."""

from __future__ import annotations

import pwd
import subprocess


def exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def ensure(names: list[str] | tuple[str, ...]) -> list[str]:
    """Create each missing user (system, nologin, no home); return the names created."""
    created = []
    for name in names:
        if exists(name):
            continue
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", "--comment", "publik-sandbox", name],
            check=True, timeout=30, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        created.append(name)
    return created


def remove(names: list[str]) -> list[str]:
    """Delete the given users (and their groups); return those that could not be deleted."""
    failed = []
    for name in names:
        if not exists(name):
            continue
        result = subprocess.run(["userdel", name], timeout=30, capture_output=True)
        if result.returncode != 0:
            failed.append(name)
    return failed
