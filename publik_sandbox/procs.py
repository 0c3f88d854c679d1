"""Start daemons in the foreground, record their PIDs, stop them by PID, poll for readiness.

A PID file holds the PID and the process start time (from /proc), so `down` never signals a
recycled PID that now belongs to someone else.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path


class StartError(RuntimeError):
    """A daemon did not start or did not become ready in time."""


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # exited, waiting to be reaped: as good as gone
        return None
    return fields[19]


def alive(record: dict) -> bool:
    """The recorded process still runs (a process that had exited when recorded never does)."""
    return record.get("start") is not None and _start_time(record["pid"]) == record["start"]


def start(
    name: str,
    argv: list[str],
    run_dir: Path,
    log_dir: Path,
    *,
    user: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen:
    """Start one foreground daemon in its own session, output to `log_dir/<name>.log`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"{name}.log", "ab") as log:
        kwargs: dict = {}
        if user:
            kwargs.update(user=user, group=user if user != "postgres" else "postgres", extra_groups=[])
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=cwd,
            **kwargs,
        )
    record = {"name": name, "pid": proc.pid, "start": _start_time(proc.pid), "argv0": argv[0]}
    (run_dir / f"{name}.pid").write_text(json.dumps(record) + "\n")
    return proc


def records(run_dir: Path) -> dict[str, dict]:
    out = {}
    for path in sorted(run_dir.glob("*.pid")):
        try:
            out[path.stem] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return out


def _children(pid: int) -> list[int]:
    """Direct children of pid (from /proc), so per-connection sshd sessions go down too."""
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("PPid:") and int(line.split()[1]) == pid:
                kids.append(int(entry.name))
                break
    return kids


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in _children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def stop(record: dict, sig: int = signal.SIGTERM, timeout: float = 5.0) -> None:
    """Signal a recorded process and its descendants; SIGKILL what is left after `timeout`."""
    if not alive(record):
        return
    pid = record["pid"]
    family = [(p, _start_time(p)) for p in descendants(pid)]
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    _reap(pid)
    deadline = time.monotonic() + timeout
    while alive(record) and time.monotonic() < deadline:
        time.sleep(0.02)
        _reap(pid)
    if alive(record):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_gone(record, 2.0)
    for child, started in family:
        if started is not None and _start_time(child) == started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)
    for child, started in family:
        if started is None:
            continue
        _wait_gone({"pid": child, "start": started}, 2.0)
        if _start_time(child) == started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)


def _reap(pid: int) -> None:
    """Collect our own child's exit status so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _wait_gone(record: dict, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while alive(record) and time.monotonic() < deadline:
        _reap(record["pid"])
        time.sleep(0.02)


# -- readiness --------------------------------------------------------------------------------------
def wait_tcp(address: str, port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, port), timeout=0.05):
                return
        except OSError:
            pass
        _check_exited(proc, f"{address}:{port}")
        if time.monotonic() > deadline:
            raise StartError(f"nothing listens on {address}:{port} after {timeout:.0f} s")
        time.sleep(0.01)


def wait_dns(address: str, port: int, name: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Poll with a short UDP timeout: a query to an unbound port waits out its whole timeout."""
    import dns.exception
    import dns.message
    import dns.query

    query = dns.message.make_query(name, "A")
    deadline = time.monotonic() + timeout
    while True:
        try:
            dns.query.udp(query, address, port=port, timeout=0.01)
            return
        except (dns.exception.Timeout, OSError):
            pass
        _check_exited(proc, f"udp {address}:{port}")
        if time.monotonic() > deadline:
            raise StartError(f"no DNS answer from {address}:{port} after {timeout:.0f} s")


def wait_file(path: Path, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        _check_exited(proc, str(path))
        if time.monotonic() > deadline:
            raise StartError(f"{path} did not appear after {timeout:.0f} s")
        time.sleep(0.01)


def _check_exited(proc: subprocess.Popen | None, what: str) -> None:
    if proc is not None and proc.poll() is not None:
        args = proc.args  # [program, *arguments] for every process here; a lone str or path is the program
        program = args if isinstance(args, str | bytes | os.PathLike) else args[0]
        raise StartError(f"{os.fsdecode(program)} exited with status {proc.returncode} before {what} was ready")


def port_in_use(proto: str, address: str, port: int) -> bool:
    """True when something already binds (address, port): another sandbox, or a stray server."""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        if proto == "tcp":  # ignore TIME_WAIT leftovers: only a bound or listening socket counts
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return True
    return False
