"""The cook, run once over SSH on the hobo server, behind a lock, leaving nothing behind.

Steps: take the platform lock on the hobo server; upload modele.zip to the w.c.s. skeletons
directory when the environment provides one (skipped when the same bytes are already there); upload
the recipe with the superuser password injected into a private directory of the cook user; run the
cook command under `timeout` in a remote wrapper, streaming its output (redacted); always remove the
recipe and release the lock once the cook has ended, whatever happened.

Why it is built this way (issue 11):
- Root never acts by path in a directory another user can write: the skeleton is written by the
  w.c.s. user itself (mktemp, checksum, rename), the recipe by the cook user in a `mktemp -d`.
- The lock is a directory made with `mkdir` (atomic) inside a directory only root can write,
  checked before use; its holder record is written by root there, read back bounded and cleaned.
  A lock whose SSH session and cook are gone is reported as stale, and broken only on request.
- The cook runs in its own process group under a wrapper that holds the SSH channel's stdin: when
  the suite goes (Ctrl-C, SIGTERM, a dropped connection), the wrapper reads EOF, stops the group and
  removes the recipe. Every process of the cook carries a marker (`publik-acceptance-cook-<token>`,
  in the recipe directory's name), so the suite can tell whether the cook has really ended before
  it releases the lock, and a later run can tell a live lock from a stale one.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import os
import re
import secrets
import shlex
import socket
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from publik_acceptance.config.catalogue import SERVICE_KINDS
from publik_acceptance.config.environment import Environment
from publik_acceptance.config.recipe import render_for_cook
from publik_acceptance.config.secrets import redact
from publik_acceptance.deploy.skeleton import render_for_environment
from publik_acceptance.evidence.probes.remote import RemoteError, RemoteResult, SshPool
from publik_acceptance.plan import Plan

LineSink = Callable[[str], None]
KILL_GRACE = 10
MARKER = "publik-acceptance-cook-"
HOLDER_LIMIT = 4096  # bytes of the holder record we read back
VALUE_LIMIT = 120  # characters of one holder value we show
WRAPPER_PREFIX = "publik-acceptance: "

# Safety of the lock's directory: every ancestor (of the path as written and as resolved) belongs to
# root and no other user can write it (a sticky directory such as /tmp is fine: nobody can rename
# our entries there); the directory itself is root's, mode 0700, not a symlink (created if missing).
_LOCK_DIR_CHECK = r"""
bad() { printf 'UNSAFE %s\n' "$*"; exit 5; }
safe_chain() {
  p=$1
  while :; do
    if [ -L "$p" ]; then
      o=$(stat -c %u -- "$p") || bad "cannot inspect $p"
      [ "$o" = 0 ] || bad "$p is a symbolic link owned by uid $o, not root"
    else
      set -- $(stat -c '%u %a' -- "$p" 2>/dev/null)
      [ $# -eq 2 ] || bad "$p does not exist or cannot be inspected"
      [ "$1" = 0 ] || bad "$p is owned by uid $1, not root"
      [ $((0$2 & 022)) -eq 0 ] || [ $((0$2 & 01000)) -ne 0 ] || bad "$p is writable by other users (mode $2)"
    fi
    [ "$p" = / ] && return 0
    p=$(dirname -- "$p")
  done
}
dir=$(dirname -- "$lock")
parent=$(dirname -- "$dir")
safe_chain "$parent"
real=$(readlink -e -- "$parent") || bad "$parent does not exist"
safe_chain "$real"
if [ ! -e "$dir" ] && [ ! -L "$dir" ]; then mkdir -m 0700 -- "$dir" 2>/dev/null; fi
[ -L "$dir" ] && bad "$dir is a symbolic link"
[ -d "$dir" ] || bad "$dir is not a directory"
set -- $(stat -c '%u %a' -- "$dir")
[ "$1" = 0 ] || bad "$dir is owned by uid $1, not root"
[ $((0$2 & 077)) -eq 0 ] || bad "$dir has mode $2: it must be 0700 (only root may use it)"
exec 9<"$dir"
flock -w 10 9 || { echo BUSY; exit 6; }
holder="$lock/holder"
field() {
  [ -f "$holder" ] && [ ! -L "$holder" ] || return 0
  head -c 4096 -- "$holder" | sed -n "s/^$1=\([0-9A-Za-z-]\{1,64\}\)\$/\1/p" | head -n 1
}
"""

# Take the lock (mkdir), or say who holds it and whether that holder is still alive; with
# breaking=1, replace a stale lock. $1 lock path, $2 our token, $3 our record, $4 breaking (0/1).
_LOCK_TAKE = "lock=$1; token=$2; record=$3; breaking=$4\n" + _LOCK_DIR_CHECK + r"""
p=$$; spid=
while [ -n "$p" ] && [ "$p" -gt 1 ]; do
  case $(sed -n 's/^Name:[[:space:]]*//p' "/proc/$p/status" 2>/dev/null) in sshd*|dropbear) spid=$p; break;; esac
  p=$(sed -n 's/^PPid:[[:space:]]*//p' "/proc/$p/status" 2>/dev/null)
done
start_of() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }
boot=$(cat /proc/sys/kernel/random/boot_id)
now=$(date +%s)
echo "NOW $now"
write_holder() {
  { printf '%s\n' "$record"
    printf 'token=%s\nstarted_epoch=%s\nboot_id=%s\nsession_pid=%s\nsession_start=%s\nserver=%s\n' \
      "$token" "$now" "$boot" "$spid" "$( [ -n "$spid" ] && start_of "$spid")" "$(hostname)"
  } > "$holder"
}
if mkdir -m 0700 -- "$lock" 2>/dev/null; then write_holder; echo TAKEN; exit 0; fi
[ -L "$lock" ] && bad "$lock is a symbolic link"
[ -d "$lock" ] || bad "$lock exists and is not a lock directory (a lock file of an older version?)"
echo HELD
if [ -f "$holder" ] && [ ! -L "$holder" ]; then head -c 4096 -- "$holder"; echo; fi
echo END-HOLDER
ht=$(field token); hb=$(field boot_id); hs=$(field session_pid); hst=$(field session_start)
if [ -n "$ht" ] && pgrep -f "[p]ublik-acceptance-cook-$ht" >/dev/null; then state="ALIVE cook"
elif [ -n "$hb" ] && [ "$hb" != "$boot" ]; then state="STALE reboot"
elif [ -n "$hs" ] && [ -n "$hst" ] && [ "$(start_of "$hs")" = "$hst" ]; then state="ALIVE session"
elif [ -n "$hs" ]; then state="STALE session"
else state="STALE norecord"
fi
echo "STATE $state"
if [ "$breaking" = 1 ] && [ "${state%% *}" = STALE ]; then
  rm -rf -- "$lock" && mkdir -m 0700 -- "$lock" && write_holder && { echo BROKEN; exit 0; }
  bad "could not replace the stale lock $lock"
fi
exit 3
"""

# Release the lock if it is still ours. $1 lock path, $2 our token.
_LOCK_RELEASE = "lock=$1; token=$2\n" + _LOCK_DIR_CHECK + r"""
[ -d "$lock" ] && [ ! -L "$lock" ] || { echo GONE; exit 0; }
[ "$(field token)" = "$token" ] || { echo NOT-OURS; exit 3; }
rm -rf -- "$lock" && echo RELEASED
"""

# Wait until no process of the cook (marker in its arguments) is left; stop stragglers. $1 token,
# $2 seconds to wait before signalling them.
_AWAIT_END = r"""
left() { pgrep -f "[p]ublik-acceptance-cook-$1" >/dev/null; }
n=0
while left "$1"; do
  n=$((n + 1))
  [ $n -eq $(($2 * 5)) ] && pkill -TERM -f "[p]ublik-acceptance-cook-$1"
  [ $n -eq $(($2 * 5 + 50)) ] && pkill -KILL -f "[p]ublik-acceptance-cook-$1"
  [ $n -ge $(($2 * 5 + 75)) ] && { echo RUNNING; exit 3; }
  sleep 0.2
done
echo ENDED
"""

# The skeleton, written by the w.c.s. user itself: never a root file operation in its directory.
# $1 directory, $2 file name, $3 sha256, $4 the w.c.s. user.
_SKELETON_UPLOAD = r"""
dir=$1; name=$2; digest=$3; owner=$4
[ -L "$dir" ] && { echo "$dir is a symbolic link: refused" >&2; exit 5; }
[ -e "$dir" ] || mkdir -p -m 0755 -- "$dir" || exit 5
[ -d "$dir" ] || { echo "$dir is not a directory: refused" >&2; exit 5; }
o=$(stat -c %U -- "$dir")
[ "$o" = "$owner" ] || [ "$o" = root ] || { echo "$dir is owned by $o, not $owner or root: refused" >&2; exit 5; }
umask 027
tmp=$(mktemp -p "$dir" .upload-XXXXXXXXXX) || exit 1
trap 'rm -f -- "$tmp"' EXIT HUP INT TERM
cat > "$tmp" || exit 1
[ "$(sha256sum < "$tmp" | cut -c1-64)" = "$digest" ] || { echo "upload incomplete (checksum differs)" >&2; exit 1; }
chmod 0640 -- "$tmp" && mv -T -f -- "$tmp" "$dir/$name"
"""

# A private directory of the cook user for the recipe (exclusive creation, 0700). $1 upload dir,
# $2 name prefix carrying the marker.
_RECIPE_DIR = 'umask 077; mktemp -d -p "$1" "$2.XXXXXXXXXX"'
# The recipe inside it, never over an existing file, checked. $1 file, $2 sha256.
_RECIPE_WRITE = ('set -C; umask 077; cat > "$1" && [ "$(sha256sum < "$1" | cut -c1-64)" = "$2" ] '
                 '|| { rm -f -- "$1"; echo "upload incomplete or refused" >&2; exit 1; }')

# The wrapper, as the login user: the cook in its own process group (setsid) under `timeout`; a
# watchdog reads the channel's stdin, which reaches EOF when the suite goes away (Ctrl-C, SIGTERM,
# connection dropped): it stops the group. The recipe directory is removed once the group ended.
# $0 marker, $1 recipe directory, $2 time limit, $3 the cook command. @ROOT@/@COOK@: sudo prefixes.
_WRAPPER = r"""
dir=$1; limit=$2; cmd=$3
exec 3<&0 0</dev/null
setsid timeout --kill-after=@GRACE@ "$limit" sh -c "$cmd" 3<&- &
pgid=$!
trap '' PIPE
say() { printf 'publik-acceptance: %s\n' "$*" >&2; }
signal() { @ROOT@/bin/kill -s "$1" -- -"$pgid" 2>/dev/null; }
alive() { signal 0; }
reap() { [ "$(sed 's/.*) //' "/proc/$pgid/stat" 2>/dev/null | cut -c1)" = Z ] && { wait "$pgid"; status=$?; }; }
say "cook started in process group $pgid"
( while read -r _ <&3; do :; done
  alive || exit 0
  say "the suite went away: stopping the cook (process group $pgid)"
  signal TERM
  n=0; while alive && [ $n -lt $((@GRACE@ * 5)) ]; do n=$((n + 1)); sleep 0.2; done
  alive && { say "still running after @GRACE@ s: killing it"; signal KILL; }
) &
watch=$!
trap 'say "interrupted: stopping the cook (process group $pgid)"; signal TERM' HUP INT TERM
wait "$pgid"; status=$?
n=0
while alive; do
  reap
  n=$((n + 1))
  [ $n -eq $((@GRACE@ * 5)) ] && { say "still running after @GRACE@ s: killing it"; signal KILL; }
  [ $n -ge $((@GRACE@ * 5 + 50)) ] && { say "the cook did not end even after KILL"; break; }
  sleep 0.2
done
kill "$watch" 2>/dev/null
@COOK@rm -rf -- "$dir" && say "recipe removed"
exit "$status"
"""


@dataclass
class CookResult:
    status: str  # "ran", "failed", "dry-run", "not run", "interrupted"
    exit_status: int | None = None
    duration: float = 0.0
    log: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    message: str = ""


class CookRefused(Exception):
    """A precondition for cooking does not hold (lock taken, nothing to cook…)."""


@dataclass(frozen=True)
class LockHolder:
    """Who holds the lock, from its record on the hobo server (values cleaned and bounded)."""

    values: dict[str, str]
    state: str  # "ALIVE cook", "ALIVE session", "STALE session", "STALE reboot", "STALE norecord"
    now: int | None

    @property
    def stale(self) -> bool:
        return self.state.startswith("STALE")

    def describe(self) -> str:
        v = self.values
        started = v.get("started", "?")
        age = ""
        if self.now is not None and v.get("started_epoch", "").isdigit():
            age = f", {_age(self.now - int(v['started_epoch']))} ago"
        return (f"held by {v.get('operator', 'unknown operator')} for ticket {v.get('ticket', '-')}, "
                f"started {started}{age}, token {v.get('token', '?')}")

    def liveness(self) -> str:
        session = f"its SSH session (pid {self.values.get('session_pid') or '?'} on the hobo server)"
        return {
            "ALIVE cook": "its cook is still running on the hobo server",
            "ALIVE session": f"{session} is still open",
            "STALE session": f"{session} is gone and no cook of it runs",
            "STALE reboot": "the hobo server rebooted since",
            "STALE norecord": "it has no readable holder record and no cook of it runs",
        }.get(self.state, self.state)


def clean(text: str, limit: int = VALUE_LIMIT) -> str:
    """A value from a server, made safe for a report line: no control or format characters, bounded."""
    kept = "".join(c if unicodedata.category(c)[0] != "C" else "?" for c in text)
    return kept if len(kept) <= limit else kept[:limit] + "…"


def _age(seconds: int) -> str:
    seconds = max(seconds, 0)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def parse_holder(output: str) -> LockHolder:
    """The HELD answer of the lock script: the bounded record, the remote time, the liveness."""
    values: dict[str, str] = {}
    now: int | None = None
    state = "STALE norecord"
    in_record = False
    for line in output.splitlines()[:200]:
        if line == "HELD":
            in_record = True
        elif line == "END-HOLDER":
            in_record = False
        elif in_record and "=" in line:
            key, _, value = line.partition("=")
            if re.fullmatch(r"[a-z_]{1,32}", key) and key not in values:
                values[key] = clean(value)
        elif line.startswith("NOW ") and line[4:].strip().isdigit():
            now = int(line[4:].strip())
        elif line.startswith("STATE "):
            state = clean(line[6:], 40)
    return LockHolder(values, state, now)


@dataclass
class Cook:
    plan: Plan
    pool: SshPool
    ticket: str | None = None
    dry_run: bool = False
    sink: LineSink = print
    operator: str = field(default_factory=lambda: f"{getpass.getuser()}@{socket.gethostname()}")
    break_lock: bool = False
    result: CookResult = field(default_factory=lambda: CookResult(status="failed"))
    # Why the lock must stay (a cook or a recipe possibly left on the server); None when settled.
    _unsettled: str | None = None
    _offline: bool = False  # the connection dropped and the one reconnection failed
    _token: str = "?"  # our lock token: the marker of every process and directory of this cook
    _settled: bool = False  # checked that no process of the cook is left
    _released: bool = False

    @property
    def env(self) -> Environment:
        return self.plan.environment

    def _say(self, result: CookResult, line: str) -> None:
        stamped = f"{dt.datetime.now(dt.UTC):%H:%M:%S} {redact(line)}"
        result.log.append(stamped)
        self.sink(stamped)

    def run(self) -> CookResult:
        """The cook; on Ctrl-C or SIGTERM (KeyboardInterrupt) it cleans up, records why, then re-raises."""
        result = self.result
        result.status = "dry-run" if self.dry_run else "failed"
        started = time.monotonic()
        try:
            if self.dry_run:
                self._dry_run(result)
                return result
            token = self._lock(result)
            try:
                self._upload_skeletons(result)
                for instance in self.plan.environment.instances:
                    self._cook_instance(instance.name, token, result)
                    if result.status == "failed":
                        break
            finally:
                self._release(token, result)
        except KeyboardInterrupt as exc:
            result.status = "interrupted"
            self._conclude(result, f"interrupted by {str(exc) or 'Ctrl-C (SIGINT)'} during the cook; nothing more "
                                   f"was cooked{self._aftermath()}", error=True)
            raise
        except (RemoteError, CookRefused) as exc:
            result.status = "failed" if result.status != "not run" else result.status
            self._conclude(result, redact(str(exc)) + (self._aftermath() if self._settled else ""), error=True)
        else:
            if self._unsettled:
                self._conclude(result, result.message, error=False)
        finally:
            result.duration = time.monotonic() - started
        return result

    def _aftermath(self) -> str:
        """What became of the remote side after an interrupt or a drop, as far as we checked it."""
        if self._unsettled or not self._settled:
            return ""
        return (" — checked on the hobo server: no process of the cook is left, the recipe is removed"
                + (", the lock released" if self._released else ""))

    def _conclude(self, result: CookResult, message: str, error: bool) -> None:
        """The result's message, with the to-do when the lock had to stay on the hobo server."""
        result.message = message + (f" — {self._unsettled_note(self._token)}" if self._unsettled else "")
        self._say(result, f"{'ERROR' if error else 'WARNING'}: {result.message}")

    def _root(self, role: str = "hobo") -> str:
        return "" if self.env.servers[role].user == "root" else "sudo -n "

    def _as(self, user: str, role: str = "hobo") -> str:
        return "" if self.env.servers[role].user == user else f"sudo -n -u {shlex.quote(user)} "

    @staticmethod
    def _script(prefix: str, script: str, *args: str, name: str = "sh") -> str:
        """`sh -c SCRIPT NAME ARGS…`: values go in as positional arguments, never into the script text."""
        return f"{prefix}sh -c {shlex.quote(script)} " + " ".join(shlex.quote(a) for a in (name, *args))

    def _remote(self, command: str, stdin: bytes | None = None, timeout: float | None = None,
                on_line: Callable[[str, str], None] | None = None, hold_stdin: bool = False) -> RemoteResult:
        """One command on the hobo server; none after a drop whose one reconnection failed."""
        if self._offline:
            raise RemoteError("the hobo server is unreachable since the connection dropped (one reconnection "
                              "was tried)")
        return self.pool.run("hobo", command, stdin=stdin, timeout=timeout, on_line=on_line, hold_stdin=hold_stdin)

    # -- lock -----------------------------------------------------------------------------------
    def _record(self) -> str:
        now = dt.datetime.now(dt.UTC)
        fields = {"platform": self.env.platform, "ticket": self.ticket or "-", "operator": self.operator,
                  "started": f"{now:%Y-%m-%dT%H:%M:%SZ}", "client_pid": str(os.getpid())}
        return "\n".join(f"{k}={clean(v)}" for k, v in fields.items())

    def _lock(self, result: CookResult) -> str:
        token = self._token = secrets.token_hex(8)
        lock = self.env.cook.lock_file
        command = self._script(self._root(), _LOCK_TAKE, lock, token, self._record(), "1" if self.break_lock else "0")
        try:
            outcome = self._remote(command)
        except KeyboardInterrupt:
            self._release(token, result)  # the lock may have been taken just before the interrupt
            raise
        lines = outcome.stdout.splitlines()
        if outcome.exit_status == 0 and ("TAKEN" in lines or "BROKEN" in lines):
            if "BROKEN" in lines:
                holder = parse_holder(outcome.stdout)
                self._say(result, f"stale lock broken (--break-lock): it was {holder.describe()}; "
                                  f"{holder.liveness()}")
                result.actions.append(f"broke the stale lock of {holder.values.get('operator', '?')}")
            self._say(result, f"lock taken: {lock} (ticket {self.ticket or '-'}, operator {self.operator}, "
                              f"token {token})")
            return token
        result.status = "not run"
        raise CookRefused(self._refusal(outcome, lock))

    def _refusal(self, outcome: RemoteResult, lock: str) -> str:
        where = f"the lock {lock} on the hobo server"
        for line in outcome.stdout.splitlines():
            if line.startswith("UNSAFE "):
                return (f"{where} cannot be trusted: {clean(line[7:], 300)}; the lock's directory must be "
                        "root's alone (mode 0700, not a symlink, in directories only root can write): fix it "
                        "or set cook.lock_file elsewhere")
            if line == "BUSY":
                return f"{where}: its directory stayed locked by another run for 10 s; try again"
        if "HELD" not in outcome.stdout.splitlines():
            detail = clean(outcome.stderr.strip(), 300) or f"exit {outcome.exit_status}"
            return f"could not take {where}: {detail}"
        holder = parse_holder(outcome.stdout)
        if holder.stale:
            hint = ("--break-lock was given but the lock changed meanwhile; try again" if self.break_lock else
                    "if you are sure that run is over, rerun with --break-lock to break it")
            return f"{where} is stale: {holder.describe()}; {holder.liveness()}; {hint}"
        hint = " (--break-lock breaks only a stale lock)" if self.break_lock else ""
        return (f"another cook holds {where}: {holder.describe()}; {holder.liveness()}: wait for it to "
                f"finish{hint}")

    def _release(self, token: str, result: CookResult) -> None:
        lock = self.env.cook.lock_file
        if self._unsettled:
            self._say(result, f"WARNING: the lock {lock} stays on the hobo server: {self._unsettled}")
            return
        try:
            done = self._remote(self._script(self._root(), _LOCK_RELEASE, lock, token))
        except RemoteError as exc:
            self._say(result, f"WARNING: could not release the lock {lock}: {exc}; it stays until broken "
                              "with --break-lock")
            return
        if "RELEASED" in done.stdout or "GONE" in done.stdout:
            self._released = True
            self._say(result, "lock released")
        else:
            self._say(result, f"WARNING: the lock {lock} is no longer ours (token {token}): left as it is")

    def _unsettled_note(self, token: str) -> str:
        return (f"{self._unsettled}; the lock stays so that no other cook starts: on the hobo server, check "
                f"that no process of this cook is left (pgrep -af {MARKER}{token}) and that no "
                f"{self.env.cook.upload_dir.rstrip('/')}/{MARKER}{token}.* directory remains (it holds the "
                "superuser password), then rerun with --break-lock")

    # -- skeleton -------------------------------------------------------------------------------
    def _skeleton_bytes(self) -> bytes | None:
        if not any(t.kind == "wcs" for t in self.plan.targets):
            return None
        if self.env.wcs.skeleton is None and self.env.wcs.skeleton_file is None:
            return None
        return render_for_environment(self.env)

    def _skeleton_targets(self) -> list[tuple[str, str]]:
        directory = self.env.server_path(self.env.wcs.skeletons_dir)
        pairs = {(t.server, f"{directory}/{t.template_name or 'default.zip'}")
                 for t in self.plan.targets if t.kind == "wcs"}
        return sorted(pairs)

    def _wcs_user(self) -> str:
        return self.env.service("wcs").owner or SERVICE_KINDS["wcs"].owner

    def _upload_skeletons(self, result: CookResult) -> None:
        data = self._skeleton_bytes()
        if data is None:
            return
        digest = hashlib.sha256(data).hexdigest()
        owner = self._wcs_user()
        for role, path in self._skeleton_targets():
            as_owner = self._as(owner, role)
            check = self.pool.run(role, f"{as_owner}sha256sum -- {shlex.quote(path)} 2>/dev/null || true")
            if check.stdout.split()[:1] == [digest]:
                self._say(result, f"skeleton {path} already up to date (sha256 {digest[:12]}…)")
                continue
            directory, _, name = path.rpartition("/")
            upload = self.pool.run(role, self._script(as_owner, _SKELETON_UPLOAD, directory, name, digest, owner),
                                   stdin=data)
            if upload.exit_status != 0:
                raise CookRefused(f"could not upload the skeleton to {path} on role {role} as {owner}: "
                                  f"{clean(redact(upload.stderr.strip()), 300) or 'exit ' + str(upload.exit_status)}")
            result.actions.append(f"uploaded {path}")
            self._say(result, f"skeleton uploaded to {path} (written by {owner}, mode 0640, sha256 {digest[:12]}…)")

    # -- the cook -------------------------------------------------------------------------------
    def _recipe_dir(self, instance: str, token: str) -> str:
        upload_dir = self.env.cook.upload_dir.rstrip("/") or "/"
        as_cook = self._as(self.env.cook.user)
        label = re.sub(r"[^A-Za-z0-9_-]", "_", instance)[:40]  # a readable name, never a path or a pattern
        made = self._remote(self._script(as_cook, _RECIPE_DIR, upload_dir, f"{MARKER}{token}-{label}"))
        path = made.stdout.strip()
        expected = f"{upload_dir.rstrip('/')}/{MARKER}{token}-"
        if made.exit_status != 0 or not path.startswith(expected) or "\n" in path or ".." in path:
            raise CookRefused(f"could not create a private directory in {upload_dir} as {self.env.cook.user}: "
                              f"{clean(made.stderr.strip(), 300) or 'exit ' + str(made.exit_status)}")
        return path

    def _cook_instance(self, instance: str, token: str, result: CookResult) -> None:
        recipe = self.plan.recipes[instance]
        password = self.plan.instance(instance).superuser_password.resolve() if recipe.has_superuser() else None
        document = render_for_cook(recipe, password).encode()
        cook = self.env.cook
        directory = self._recipe_dir(instance, token)
        path = f"{directory}/recipe.json"
        try:
            write = self._remote(self._script(self._as(cook.user), _RECIPE_WRITE, path,
                                              hashlib.sha256(document).hexdigest()), stdin=document)
            if write.exit_status != 0:
                raise CookRefused(f"could not write the recipe to {path} as {cook.user}: "
                                  f"{clean(redact(write.stderr.strip()), 300) or 'exit ' + str(write.exit_status)}")
            result.actions.append(f"uploaded recipe {path} (private directory 0700 and file 0600, owner {cook.user})")
            self._run(instance, directory, path, token, result)
        finally:
            self._remove(directory, result)

    def _wrapper(self, token: str, directory: str, command: str) -> str:
        script = (_WRAPPER.replace("@GRACE@", str(KILL_GRACE)).replace("@ROOT@", self._root())
                  .replace("@COOK@", self._as(self.env.cook.user)))
        return self._script("", script, directory, str(int(self.env.cook.timeout)), command,
                            name=f"{MARKER}{token}")

    def _run(self, instance: str, directory: str, path: str, token: str, result: CookResult) -> None:
        cook = self.env.cook
        command = cook.command.format(recipe=shlex.quote(path))
        self._settled = False
        self._say(result, f"$ {command}")
        started = time.monotonic()

        def echo(stream: str, line: str) -> None:
            self._say(result, f"{'!' if stream == 'stderr' else '|'} {line}")

        try:
            run = self._remote(self._wrapper(token, directory, command), timeout=cook.timeout + KILL_GRACE + 15,
                               on_line=echo, hold_stdin=True)
        except KeyboardInterrupt:
            self._say(result, "interrupted: the cook's SSH channel is closed, the remote wrapper stops the cook")
            self._settle(token, result)
            raise
        except RemoteError as exc:
            self._say(result, f"ERROR: {exc}")
            self._say(result, "reconnecting once to the hobo server to make sure the cook has stopped, remove "
                              "the recipe and release the lock")
            self._settle(token, result, reconnect=True)
            raise
        result.exit_status = run.exit_status
        elapsed = time.monotonic() - started
        if run.exit_status in (124, 137):
            result.status = "failed"
            result.message = f"cook of {instance} timed out after {cook.timeout:g} s (cook.timeout)"
        elif run.exit_status != 0:
            result.status = "failed"
            result.message = f"cook of {instance} exited {run.exit_status} after {elapsed:.1f} s"
        else:
            result.status = "ran"
            result.message = f"cook of {instance} finished in {elapsed:.1f} s"
        self._say(result, result.message)
        self._settle(token, result)

    def _settle(self, token: str, result: CookResult, reconnect: bool = False) -> None:
        """Make sure no process of this cook is left before the lock may go; otherwise say why it stays."""
        try:
            done = self._remote(self._script(self._root(), _AWAIT_END, token, str(KILL_GRACE + 5)),
                                timeout=KILL_GRACE * 2 + 40)
        except RemoteError as exc:
            if reconnect:
                self._offline = True
            self._unsettled = f"could not check that the cook has ended ({exc})"
            return
        if "ENDED" in done.stdout:
            self._settled = True
            self._say(result, "no process of the cook is left on the hobo server")
        else:
            self._unsettled = "a process of the cook still runs on the hobo server after TERM and KILL"

    def _remove(self, directory: str, result: CookResult) -> None:
        quoted = shlex.quote(directory)
        try:
            done = self._remote(f"{self._as(self.env.cook.user)}sh -c "
                                f"{shlex.quote(f'rm -rf -- {quoted} && ! test -e {quoted}')}")
        except RemoteError as exc:
            self._say(result, f"WARNING: could not remove {directory} (the recipe in it holds the superuser "
                              f"password): {exc}")
            self._unsettled = self._unsettled or f"the recipe directory {directory} may remain"
            return
        if done.exit_status == 0:
            self._say(result, f"recipe {directory}/recipe.json removed")
        else:
            self._say(result, f"WARNING: {directory} may still exist on the hobo server: remove it by hand")
            self._unsettled = self._unsettled or f"the recipe directory {directory} may remain"

    def _dry_run(self, result: CookResult) -> None:
        cook = self.env.cook
        self._say(result, f"dry run: would take the lock {cook.lock_file} on {self.pool.describe('hobo')}")
        if self._skeleton_bytes() is not None:
            for role, path in self._skeleton_targets():
                self._say(result, f"dry run: would upload modele.zip to {path} on role {role} "
                                  f"(written by {self._wcs_user()}, 0640)")
        for instance in self.plan.environment.instances:
            path = f"{cook.upload_dir.rstrip('/')}/{MARKER}XXXX-{instance.name}.XXXXXXXXXX/recipe.json"
            self._say(result, f"dry run: would upload the recipe of {instance.name} to {path} "
                              f"(private directory 0700, file 0600, owner {cook.user}, superuser password ***)")
            self._say(result, f"dry run: would run: {cook.command.format(recipe=path)} (timeout {cook.timeout:g} s)")
            self._say(result, f"dry run: would remove {path} and release the lock")

