"""The cook's processes on the hobo server: run under a wrapper that stops them when the suite goes, then awaited.

The cook runs in its own process group under a wrapper that holds the SSH channel's stdin: when the
suite goes (Ctrl-C, SIGTERM, a dropped connection), the wrapper reads EOF, stops the group and
removes the recipe. Every process of the cook carries a marker (`publik-acceptance-cook-<token>`, in
the recipe directory's name and the wrapper's `$0`), so the suite can tell whether the cook has
really ended before it releases the lock, and a later run can tell a live lock from a stale one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from publik_acceptance.config.environment import Environment
from publik_acceptance.deploy.shell import Remote, script
from publik_acceptance.evidence.probes.privilege import Privilege
from publik_acceptance.evidence.probes.remote import RemoteResult

KILL_GRACE = 10  # seconds between TERM and KILL
# Three TERM → wait → KILL loops below, kept apart on purpose: the watchdog (a subshell) signals the
# cook's group at once and cannot reap it (not its child); the wrapper's own loop reaps the group's
# leader to keep the cook's exit status and sends no TERM (the cook ended, or was already sent TERM);
# await_end is a later, separate command that finds stragglers by their marker in any process group
# (the wrapper may be gone) and gives the wrapper its own grace first.
MARKER = "publik-acceptance-cook-"

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

# The wrapper, as the login user: the cook in its own process group (setsid) under `timeout`; a
# watchdog reads the channel's stdin, which reaches EOF when the suite goes away (Ctrl-C, SIGTERM,
# connection dropped): it stops the group. The recipe directory is removed once the group ended.
# $0 marker, $1 recipe directory, $2 time limit, $3 the cook command, $4 "1" when root needs sudo,
# $5 the cook user when it is not the login user. @GRACE@: KILL_GRACE, our constant.
_WRAPPER = r"""
dir=$1; limit=$2; cmd=$3; sudo_root=$4; cook_user=$5
as_root() { if [ "$sudo_root" = 1 ]; then sudo -n "$@"; else "$@"; fi; }
as_cook() { if [ -n "$cook_user" ]; then sudo -n -u "$cook_user" "$@"; else "$@"; fi; }
exec 3<&0 0</dev/null
setsid timeout --kill-after=@GRACE@ "$limit" sh -c "$cmd" 3<&- &
pgid=$!
trap '' PIPE
say() { printf 'publik-acceptance: %s\n' "$*" >&2; }
signal() { as_root /bin/kill -s "$1" -- -"$pgid" 2>/dev/null; }
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
as_cook rm -rf -- "$dir" && say "recipe removed"
exit "$status"
""".replace("@GRACE@", str(KILL_GRACE))


def run_wrapped(remote: Remote, env: Environment, login: Privilege, token: str, directory: str, command: str,
                on_line: Callable[[str, str], None]) -> RemoteResult:
    """Run the cook `command` under the wrapper (as the hobo server's SSH `login`), its output to `on_line`, the
    SSH channel held. The wrapper's limit is the cook's hard timeout (cook.timeout + cook.kill_margin): cook's
    own --timeout ends it first."""
    limit = env.cook.hard_timeout
    sudo_root = "1" if login.sudo_for_root else ""
    cook_user = env.cook.user if login.needs_sudo_as(env.cook.user) else ""
    return remote(script("", _WRAPPER, directory, str(math.ceil(limit)), command, sudo_root, cook_user,
                         name=f"{MARKER}{token}"),
                  timeout=limit + KILL_GRACE + 15, on_line=on_line, hold_stdin=True)


def await_end(remote: Remote, token: str, root: str) -> bool:
    """True once no process of the cook `token` is left (stragglers get TERM, then KILL); False if one still runs."""
    done = remote(script(root, _AWAIT_END, token, str(KILL_GRACE + 5)), timeout=KILL_GRACE * 2 + 40)
    return "ENDED" in done.stdout
