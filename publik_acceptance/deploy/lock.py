"""The cook lock on the hobo server: take it, read its holder, tell stale from alive, break on request, release.

The lock is a directory made with `mkdir` (atomic) inside a directory only root can write, checked
before use; its holder record is written by root there, read back bounded and cleaned. A lock whose
SSH session and cook are gone is reported as stale, and broken only on request (--break-lock).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass

from publik_acceptance.deploy.result import CookRefused
from publik_acceptance.deploy.shell import Remote, clean, failure, script
from publik_acceptance.evidence.probes.remote import RemoteResult

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


def holder_record(platform: str, ticket: str | None, operator: str) -> str:
    """Who takes the lock, the first lines of its holder record (the take script adds token, boot and session)."""
    now = dt.datetime.now(dt.UTC)
    fields = {"platform": platform, "ticket": ticket or "-", "operator": operator,
              "started": f"{now:%Y-%m-%dT%H:%M:%SZ}", "client_pid": str(os.getpid())}
    return "\n".join(f"{k}={clean(v)}" for k, v in fields.items())


@dataclass(frozen=True)
class CookLock:
    """The lock at `path`, handled as root (`root`: its sudo prefix) through `remote`, a command on the hobo server."""

    path: str
    root: str
    remote: Remote
    break_lock: bool = False  # replace a stale lock (--break-lock); a live one is never broken

    def take(self, token: str, record: str) -> LockHolder | None:
        """Take the lock for `token`: the stale holder it replaced, if any; CookRefused saying why when it cannot."""
        outcome = self.remote(script(self.root, _LOCK_TAKE, self.path, token, record, "1" if self.break_lock else "0"))
        lines = outcome.stdout.splitlines()
        if outcome.exit_status == 0 and ("TAKEN" in lines or "BROKEN" in lines):
            return parse_holder(outcome.stdout) if "BROKEN" in lines else None
        raise CookRefused(self._refusal(outcome))

    def release(self, token: str) -> bool:
        """Remove the lock if `token` still holds it: True once it is gone, False when it is no longer ours."""
        done = self.remote(script(self.root, _LOCK_RELEASE, self.path, token))
        return "RELEASED" in done.stdout or "GONE" in done.stdout

    def _refusal(self, outcome: RemoteResult) -> str:
        where = f"the lock {self.path} on the hobo server"
        for line in outcome.stdout.splitlines():
            if line.startswith("UNSAFE "):
                return (f"{where} cannot be trusted: {clean(line[7:], 300)}; the lock's directory must be "
                        "root's alone (mode 0700, not a symlink, in directories only root can write): fix it "
                        "or set cook.lock_file elsewhere")
            if line == "BUSY":
                return f"{where}: its directory stayed locked by another run for 10 s; try again"
        if "HELD" not in outcome.stdout.splitlines():
            return f"could not take {where}: {failure(outcome)}"
        holder = parse_holder(outcome.stdout)
        if holder.stale:
            hint = ("--break-lock was given but the lock changed meanwhile; try again" if self.break_lock else
                    "if you are sure that run is over, rerun with --break-lock to break it")
            return f"{where} is stale: {holder.describe()}; {holder.liveness()}; {hint}"
        hint = " (--break-lock breaks only a stale lock)" if self.break_lock else ""
        return (f"another cook holds {where}: {holder.describe()}; {holder.liveness()}: wait for it to "
                f"finish{hint}")
