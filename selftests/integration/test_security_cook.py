"""Issue 11, points 2, 4 and 5, reproduced against the sandbox: the cook's files, lock and interrupts.

- No root file operation by path in a directory another user owns: a w.c.s. user racing the
  skeleton upload with symlinks cannot make root chown/chmod a file of its choice; a skeletons
  directory that is a symlink is refused; the recipe lands in a private directory of the cook user.
- A cook lock that cannot be faked: a lock configured in a directory anyone may write is refused
  at load time; entries planted where the old lock lived change nothing; a stale lock is reported
  with holder, ticket and age and broken only with --break-lock.
- Interrupts leave nothing behind and lie about nothing: SIGTERM, SIGINT or a dropped SSH connection
  during a hanging cook stop the remote cook, remove the recipe and release the lock only after.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from publik_acceptance.deploy.cook import Cook
from publik_acceptance.deploy.result import CookRefused, CookResult
from publik_acceptance.deploy.uploads import skeleton_targets
from publik_acceptance.evidence.probes.remote import SshPool
from publik_acceptance.plan import load_plan
from selftests.clients import wait_for
from selftests.rig import Rig

from .locks import dead_pid, leftovers, lock_path, plant_lock
from .suite_runner import finish_suite, run_suite, start_suite, variant

OLD_DEFAULT_LOCK = Path("/run/lock/publik-acceptance-cook.lock")
NEW_DEFAULT_LOCK_DIR = Path("/run/publik-acceptance")

# A w.c.s. user (or whoever owns the skeletons directory) swapping any upload temp file for a symlink
# to the victim, as fast as it can: the attack of point 2.
RACER = r"""
import os, sys
directory, victim = sys.argv[1], sys.argv[2]
n = 0
while True:
    try:
        names = os.listdir(directory)
    except OSError:
        continue
    for name in names:
        if "upload" not in name or name.startswith(".r-"):
            continue
        path = os.path.join(directory, name)
        if os.path.islink(path):
            continue
        n += 1
        link = os.path.join(directory, ".r-%d" % n)
        try:
            os.symlink(victim, link)
            os.rename(link, path)
        except OSError:
            try:
                os.unlink(link)
            except OSError:
                pass
"""



def _cook(rig: Rig) -> tuple[Cook, SshPool, list[str]]:
    """The suite's Cook against the sandbox, its log kept in a list."""
    plan = load_plan(rig.sandbox.env_file)
    pool = SshPool(plan.environment)
    lines: list[str] = []
    return Cook(plan, pool, sink=lines.append), pool, lines


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _hung(rig: Rig) -> set[int]:
    """PIDs of hobo-manage stand-ins that hang in the cook (cook-hangs fault)."""
    return {int(p.name) for p in (rig.paths.standin / "hung").glob("*") if p.name.isdigit()}


def _summary(tmp: Path) -> dict:
    found = sorted((tmp / "reports").glob("*.json"))
    return json.loads(found[0].read_text()) if found else {}


def _everything_written(tmp: Path, output: str) -> str:
    texts = [output]
    for path in (tmp / "reports").rglob("*"):
        if path.is_file():
            texts.append(path.read_text(errors="replace"))
    return "\n".join(texts)


# -- point 2: no root file operation by path in another user's directory --------------------------
def test_skeleton_upload_symlink_race_is_refused(rig: Rig, tmp_path: Path) -> None:
    rig.up()
    cook, pool, _lines = _cook(rig)
    ((_role, skeleton),) = skeleton_targets(cook.plan)
    skeleton_path = Path(skeleton)
    victim = rig.paths.state / "victim"
    victim.write_text("root's own file\n")
    victim.chmod(0o600)
    wcs = pwd.getpwnam("wcs")
    racer = subprocess.Popen(["runuser", "-u", "wcs", "--", "/usr/bin/python3", "-I", "-c", RACER,
                              str(skeleton_path.parent), str(victim)])
    refused = 0
    try:
        for _ in range(10):
            if skeleton_path.is_symlink() or skeleton_path.exists():
                skeleton_path.unlink()  # so that each round uploads
            try:
                cook._upload_skeletons(CookResult(status="failed"))
            except CookRefused as exc:
                refused += 1
                assert str(skeleton_path.parent) in str(exc) or "skeleton" in str(exc), exc
            info = victim.stat()
            assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, 0, 0o600), (
                f"root changed the victim through the racer's symlink: now uid {info.st_uid} gid {info.st_gid} "
                f"mode {stat.S_IMODE(info.st_mode):o} (wcs is {wcs.pw_uid})")
    finally:
        racer.kill()
        racer.wait()
        pool.close()
        for path in skeleton_path.parent.iterdir():
            if path.is_symlink() or ".upload-" in path.name or path.name.startswith(".r-"):
                path.unlink()
    assert victim.read_text() == "root's own file\n"


def test_skeletons_dir_that_is_a_symlink_is_refused(rig: Rig) -> None:
    rig.up()
    cook, pool, _lines = _cook(rig)
    ((_role, skeleton),) = skeleton_targets(cook.plan)
    directory = Path(skeleton).parent
    elsewhere = rig.paths.state / "root-only"
    elsewhere.mkdir(mode=0o700, exist_ok=True)
    saved = rig.paths.state / "skeletons-saved"
    directory.rename(saved)
    directory.symlink_to(elsewhere)
    try:
        with pytest.raises(CookRefused, match="symbolic link"):
            cook._upload_skeletons(CookResult(status="failed"))
    finally:
        pool.close()
        directory.unlink()
        saved.rename(directory)
    assert list(elsewhere.iterdir()) == [], "the skeleton was written through the symlink"


# -- point 4: a cook lock that cannot be faked -------------------------------------------------------
def test_lock_in_a_shared_directory_is_refused_at_load(rig: Rig, tmp_path: Path) -> None:
    rig.up()
    env = variant(rig.sandbox.env_file, tmp_path, cook={"lock_file": str(OLD_DEFAULT_LOCK)})
    run = run_suite(env, "--phase", "all", tmp=tmp_path)
    assert run.exit_code == 4, run.describe() + run.output[-2000:]
    assert "cook.lock_file" in run.output and "/run/lock" in run.output, run.output[-2000:]
    assert "Traceback" not in run.output
    assert rig.sandbox.cook_invocations() == []


@pytest.fixture
def default_lock_dir() -> Iterator[Path]:
    """The default lock directory on this host (the sandbox's hobo server): removed afterwards if new."""
    existed = NEW_DEFAULT_LOCK_DIR.exists()
    yield NEW_DEFAULT_LOCK_DIR
    if not existed:
        shutil.rmtree(NEW_DEFAULT_LOCK_DIR, ignore_errors=True)


def _plant(kind: str) -> None:
    OLD_DEFAULT_LOCK.unlink(missing_ok=True)
    if kind == "file":
        OLD_DEFAULT_LOCK.write_text("platform=sandbox ticket=EVIL operator=attacker-text started=never token=x\n")
    elif kind == "fifo":
        os.mkfifo(OLD_DEFAULT_LOCK)
    elif kind == "devnull":
        OLD_DEFAULT_LOCK.symlink_to("/dev/null")
    elif kind == "shadow":
        OLD_DEFAULT_LOCK.symlink_to("/etc/shadow")


def _with_default_lock(env_file: Path, tmp: Path, **cook: object) -> Path:
    data = yaml.safe_load(env_file.read_text())
    data["cook"].pop("lock_file")
    data["cook"].update(cook)
    path = tmp / "default-lock.yml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("kind", ["file", "fifo", "devnull", "shadow"])
def test_planted_entries_where_the_old_lock_lived_change_nothing(rig: Rig, tmp_path: Path, kind: str,
                                                                 default_lock_dir: Path) -> None:
    """The old default lock was a file in world-writable /run/lock: anyone could plant it."""
    rig.up("cook-hangs")
    env = _with_default_lock(rig.sandbox.env_file, tmp_path, timeout=3, kill_margin=3)  # stopped after 6 s
    _plant(kind)
    before = os.lstat(OLD_DEFAULT_LOCK)
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    try:
        first = start_suite(env, "--phase", "deploy", tmp=tmp_path / "first")
        try:
            assert wait_for(lambda: len(rig.sandbox.cook_invocations()) == 1, 40), "the first cook did not start"
            assert (default_lock_dir / "cook.lock").is_dir()
            second = run_suite(env, "--phase", "deploy", tmp=tmp_path / "second")
        finally:
            first_run = finish_suite(first, tmp_path / "first")
        after = os.lstat(OLD_DEFAULT_LOCK)
    finally:
        OLD_DEFAULT_LOCK.unlink(missing_ok=True)
    assert set(second.failed) == {"test_cook"}, second.describe() + second.output[-2000:]
    assert "another cook holds the lock" in second.failed["test_cook"], "a planted entry let a second cook in"
    assert "timed out after 6 s" in first_run.failed.get("test_cook", ""), first_run.describe()
    assert len(rig.sandbox.cook_invocations()) == 1
    assert (before.st_mode, before.st_ino, before.st_size) == (after.st_mode, after.st_ino, after.st_size)
    assert not (default_lock_dir / "cook.lock").exists(), "the lock outlived the run that took it"
    written = _everything_written(tmp_path / "first", first_run.output) + _everything_written(
        tmp_path / "second", second.output)
    assert "attacker-text" not in written and "EVIL" not in written
    shadow_first_line = Path("/etc/shadow").read_text().splitlines()[0]
    assert shadow_first_line not in written, "a file root can read went into the report"


def test_stale_lock_is_reported_and_broken_only_with_break_lock(rig: Rig, tmp_path: Path) -> None:
    rig.up()
    lock = plant_lock(rig, session_pid=dead_pid(), session_start="12345", operator="ghost@gone\x1b[31m",
                      ticket="CHG-9", age=7200, token="feedfacefeedface")
    holder = (lock / "holder").read_text()
    run = run_suite(rig.sandbox.env_file, "--phase", "all", tmp=tmp_path / "one")
    assert set(run.failed) == {"test_cook"}, run.describe()
    message = run.failed["test_cook"]
    for words in ("is stale", "ghost@gone", "CHG-9", "2.0 h ago", "is gone", "--break-lock"):
        assert words in message, f"{words!r} missing from: {message}"
    assert "\x1b" not in run.output and "\x1b" not in message, "a control character reached the console"
    assert (lock / "holder").read_text() == holder, "the stale lock was touched without --break-lock"
    assert rig.sandbox.cook_invocations() == []

    run = run_suite(rig.sandbox.env_file, "--phase", "all", "--break-lock", tmp=tmp_path / "two")
    assert run.exit_code == 0, run.describe() + run.output[-3000:]
    assert "stale lock broken" in run.output and "ghost@gone" in run.output
    assert len(rig.sandbox.cook_invocations()) == 1
    assert not lock.exists(), "the lock outlived the run that took it"


# -- point 5: interrupts leave nothing behind and lie about nothing ----------------------------------
def _start_a_hanging_cook(rig: Rig, tmp_path: Path) -> tuple[subprocess.Popen, set[int]]:
    """The whole flow in the background with a cook that never returns; once it hangs, its stand-in PIDs."""
    rig.up("cook-hangs")
    env = variant(rig.sandbox.env_file, tmp_path, cook={"timeout": 120})
    before = _hung(rig)
    process = start_suite(env, "--phase", "all", tmp=tmp_path)
    if not wait_for(lambda: bool(_hung(rig) - before), 40):
        finish_suite(process, tmp_path, timeout=90)
        raise AssertionError("the cook did not start")
    return process, _hung(rig) - before


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_interrupt_during_the_cook_leaves_nothing(rig: Rig, tmp_path: Path, signum: int) -> None:
    process, hung = _start_a_hanging_cook(rig, tmp_path)
    try:
        uploaded = _describe_upload(rig)
        held = lock_path(rig).is_dir()
        process.send_signal(signum)
    finally:
        result = finish_suite(process, tmp_path, timeout=90)
    assert result.exit_code != 0, result.describe()
    assert not [pid for pid in hung if _alive(pid)], "the remote cook still runs after the interrupt"
    assert leftovers(rig) == [], "the recipe (with the password) was left on the server"
    assert not lock_path(rig).exists(), "the lock was not released after the cook ended"
    name = signal.Signals(signum).name
    assert "interrupted by" in result.output and (name in result.output or "Ctrl-C" in result.output), \
        result.output[-3000:]
    summary = _summary(tmp_path)
    assert summary.get("cook") == "interrupted", summary.get("cook")
    assert summary.get("interrupted") is True and "Interrupted (Ctrl-C or SIGTERM) before the end" in result.output
    assert "cook where things stand: " in result.output, result.output[-3000:]
    assert "interrupted" in summary.get("cook_message", "")
    assert held, "no lock was held during the cook"
    # The recipe (with the password) sat in a private directory of the cook user, not in /tmp itself.
    assert uploaded == [("dir", "hobo", 0o700), ("file", "hobo", 0o600)], uploaded


def _describe_upload(rig: Rig) -> list[tuple[str, str, int]]:
    """(kind, owner, mode) of everything in the upload directory, outermost first."""
    out = []
    for path in leftovers(rig):
        info = path.lstat()
        kind = "dir" if stat.S_ISDIR(info.st_mode) else "file" if stat.S_ISREG(info.st_mode) else "other"
        out.append((kind, pwd.getpwuid(info.st_uid).pw_name, stat.S_IMODE(info.st_mode)))
    return out


def _sshd_session_of(pid: int) -> int:
    """The sshd process of the SSH connection a process runs under (its first sshd ancestor)."""
    while pid > 1:
        status = Path(f"/proc/{pid}/status").read_text()
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        if fields["Name"].strip().startswith("sshd"):
            return pid
        pid = int(fields["PPid"])
    raise AssertionError("no sshd ancestor")


def test_ssh_drop_during_the_cook_stops_it_and_tells_the_truth(rig: Rig, tmp_path: Path) -> None:
    process, hung = _start_a_hanging_cook(rig, tmp_path)
    try:
        os.kill(_sshd_session_of(next(iter(hung))), signal.SIGKILL)  # only the suite's connection
    finally:
        result = finish_suite(process, tmp_path, timeout=90)
    assert set(result.failed) == {"test_cook"}, result.describe()
    message = result.failed["test_cook"]
    assert "connection dropped" in message, message
    assert not [pid for pid in hung if _alive(pid)], "the remote cook still runs after the connection dropped"
    assert leftovers(rig) == [], "the recipe (with the password) was left on the server"
    assert not lock_path(rig).exists(), "the lock was not released though the cook has ended"
    assert "reconnecting once" in result.output, result.output[-3000:]
    assert "no process of the cook is left" in message, "the failure does not say what became of the cook"

