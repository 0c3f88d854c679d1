"""The cook, run once over SSH on the hobo server, behind a lock, leaving nothing behind: the steps and their log.

Steps: take the platform lock on the hobo server (`lock`); upload modele.zip to the w.c.s.
skeletons directory when the environment provides one (skipped when the same bytes are already
there) and the recipe with the superuser password injected into a private directory of the cook
user (`uploads`); run the cook command under `timeout` in a remote wrapper, streaming its output
(redacted) (`wrapper`); always remove the recipe and release the lock once the cook has ended,
whatever happened. When the end of the cook cannot be checked (an interrupt, a dropped connection),
the lock stays and the result says what to check by hand (issue 11).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import secrets
import shlex
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from publik_acceptance.config.environment import Environment
from publik_acceptance.config.recipe import render_for_cook
from publik_acceptance.config.secrets import redact
from publik_acceptance.deploy.lock import CookLock, holder_record
from publik_acceptance.deploy.result import FAILED, TIMED_OUT_WAITING, CookRefused, CookResult, classify, combine
from publik_acceptance.deploy.uploads import (
    recipe_dir,
    remove_recipe_dir,
    skeleton_bytes,
    skeleton_targets,
    upload_skeleton,
    wcs_user,
    write_recipe,
)
from publik_acceptance.deploy.wrapper import MARKER, await_end, run_wrapped
from publik_acceptance.evidence.probes.privilege import Privilege, privilege
from publik_acceptance.evidence.probes.remote import RemoteError, RemoteResult, SshPool
from publik_acceptance.plan import Plan

LineSink = Callable[[str], None]


@dataclass
class Cook:
    plan: Plan
    pool: SshPool
    ticket: str | None = None
    dry_run: bool = False
    sink: LineSink = print
    operator: str = field(default_factory=lambda: f"{getpass.getuser()}@{socket.gethostname()}")
    break_lock: bool = False
    already_there: tuple[str, ...] = ()  # --resume: tenants (target ids) the gate accepted, cooked again
    result: CookResult = field(default_factory=lambda: CookResult(status="failed"))
    # Why the lock must stay (a cook or a recipe possibly left on the server); None when settled.
    _unsettled: str | None = None
    _offline: bool = False  # the connection dropped and the one reconnection failed
    _token: str = "?"  # our lock token: the marker of every process and directory of this cook
    _settled: bool = False  # checked that no process of the cook is left
    _released: bool = False
    _endings: list[str] = field(default_factory=list)  # how each instance's cook ended, in order

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
            if self.already_there:
                self._say(result, f"--resume: cooking again over {len(self.already_there)} tenant(s) already "
                                  f"there (cook is get-or-create): {', '.join(self.already_there)}")
            try:
                self._upload_skeletons(result)
                for instance in self.plan.environment.instances:
                    self._cook_instance(instance.name, token, result)
                    if result.status == FAILED:
                        break
            finally:
                self._release(token, result)
        except KeyboardInterrupt as exc:
            result.status = "interrupted"
            self._conclude(result, f"interrupted by {str(exc) or 'Ctrl-C (SIGINT)'} during the cook; nothing more "
                                   f"was cooked{self._aftermath()}", error=True)
            raise
        except (RemoteError, CookRefused) as exc:
            if result.status != "not run":
                result.status = "failed"
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

    def _remote(self, command: str, stdin: bytes | None = None, timeout: float | None = None,
                on_line: Callable[[str, str], None] | None = None, hold_stdin: bool = False) -> RemoteResult:
        """One command on the hobo server; none after a drop whose one reconnection failed."""
        if self._offline:
            raise RemoteError("the hobo server is unreachable since the connection dropped (one reconnection "
                              "was tried)")
        return self.pool.run("hobo", command, stdin=stdin, timeout=timeout, on_line=on_line, hold_stdin=hold_stdin)

    @property
    def _hobo(self) -> Privilege:
        """The hobo server's SSH login (after ssh_config): who needs sudo to act as root or as the cook user."""
        return privilege(self.pool, "hobo")

    # -- lock -----------------------------------------------------------------------------------
    def _platform_lock(self) -> CookLock:
        return CookLock(self.env.cook.lock_file, self._hobo.root, self._remote, self.break_lock)

    def _lock(self, result: CookResult) -> str:
        token = self._token = secrets.token_hex(8)
        lock = self._platform_lock()
        record = holder_record(self.env.platform, self.ticket, self.operator)
        try:
            broken = lock.take(token, record)
        except KeyboardInterrupt:
            self._release(token, result)  # the lock may have been taken just before the interrupt
            raise
        except CookRefused:
            result.status = "not run"
            raise
        if broken is not None:
            self._say(result, f"stale lock broken (--break-lock): it was {broken.describe()}; {broken.liveness()}")
            result.actions.append(f"broke the stale lock of {broken.values.get('operator', '?')}")
        self._say(result, f"lock taken: {lock.path} (ticket {self.ticket or '-'}, operator {self.operator}, "
                          f"token {token})")
        return token

    def _release(self, token: str, result: CookResult) -> None:
        lock = self.env.cook.lock_file
        if self._unsettled:
            self._say(result, f"WARNING: the lock {lock} stays on the hobo server: {self._unsettled}")
            return
        try:
            released = self._platform_lock().release(token)
        except RemoteError as exc:
            self._say(result, f"WARNING: could not release the lock {lock}: {exc}; it stays until broken "
                              "with --break-lock")
            return
        if released:
            self._released = True
            self._say(result, "lock released")
        else:
            self._say(result, f"WARNING: the lock {lock} is no longer ours (token {token}): left as it is")

    def _unsettled_note(self, token: str) -> str:
        return (f"{self._unsettled}; the lock stays so that no other cook starts: on the hobo server, check "
                f"that no process of this cook is left (pgrep -af {MARKER}{token}) and that no "
                f"{self.env.cook.upload_dir.rstrip('/')}/{MARKER}{token}.* directory remains (it holds the "
                "superuser password), then rerun with --break-lock")

    # -- uploads --------------------------------------------------------------------------------
    def _upload_skeletons(self, result: CookResult) -> None:
        data = skeleton_bytes(self.plan)
        if data is None:
            return
        digest = hashlib.sha256(data).hexdigest()
        for role, path in skeleton_targets(self.plan):
            if not upload_skeleton(self.pool, self.env, role, path, data, digest):
                self._say(result, f"skeleton {path} already up to date (sha256 {digest[:12]}…)")
                continue
            result.actions.append(f"uploaded {path}")
            self._say(result, f"skeleton uploaded to {path} (written by {wcs_user(self.env)}, mode 0640, "
                              f"sha256 {digest[:12]}…)")

    def _cook_instance(self, instance: str, token: str, result: CookResult) -> None:
        recipe = self.plan.recipes[instance]
        password = self.plan.instance(instance).superuser_password.resolve() if recipe.has_superuser() else None
        document = render_for_cook(recipe, password).encode()
        directory = recipe_dir(self._remote, self.env, self._hobo, instance, token)
        path = f"{directory}/recipe.json"
        try:
            write_recipe(self._remote, self.env, self._hobo, path, document)
            result.actions.append(f"uploaded recipe {path} (private directory 0700 and file 0600, owner "
                                  f"{self.env.cook.user})")
            self._run(instance, directory, path, token, result)
        finally:
            self._remove(directory, result)

    def _remove(self, directory: str, result: CookResult) -> None:
        try:
            removed = remove_recipe_dir(self._remote, self.env, self._hobo, directory)
        except RemoteError as exc:
            self._say(result, f"WARNING: could not remove {directory} (the recipe in it holds the superuser "
                              f"password): {exc}")
            self._unsettled = self._unsettled or f"the recipe directory {directory} may remain"
            return
        if removed:
            self._say(result, f"recipe {directory}/recipe.json removed")
        else:
            self._say(result, f"WARNING: {directory} may still exist on the hobo server: remove it by hand")
            self._unsettled = self._unsettled or f"the recipe directory {directory} may remain"

    # -- the cook -------------------------------------------------------------------------------
    def _run(self, instance: str, directory: str, path: str, token: str, result: CookResult) -> None:
        cook = self.env.cook
        command = cook.render(shlex.quote(path))
        self._settled = False
        self._say(result, f"$ {command}")
        started = time.monotonic()
        output: list[str] = []  # cook's own lines: how it ended (e.g. "timeout waiting for …") is read there

        def echo(stream: str, line: str) -> None:
            output.append(line)
            self._say(result, f"{'!' if stream == 'stderr' else '|'} {line}")

        try:
            run = run_wrapped(self._remote, self.env, self._hobo, token, directory, command, echo)
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
        ending = classify(instance, run.exit_status, output, time.monotonic() - started, cook.timeout,
                          cook.hard_timeout)
        first = not self._endings
        self._endings.append(ending.message)
        result.status = ending.status if first else combine(result.status, ending.status)
        result.message = "; ".join(self._endings)
        self._say(result, ("WARNING: " if ending.status == TIMED_OUT_WAITING else "") + ending.message)
        self._settle(token, result)

    def _settle(self, token: str, result: CookResult, reconnect: bool = False) -> None:
        """Make sure no process of this cook is left before the lock may go; otherwise say why it stays."""
        try:
            ended = await_end(self._remote, token, self._hobo.root)
        except RemoteError as exc:
            if reconnect:
                self._offline = True
            self._unsettled = f"could not check that the cook has ended ({exc})"
            return
        if ended:
            self._settled = True
            self._say(result, "no process of the cook is left on the hobo server")
        else:
            self._unsettled = "a process of the cook still runs on the hobo server after TERM and KILL"

    def _dry_run(self, result: CookResult) -> None:
        cook = self.env.cook
        self._say(result, f"dry run: would take the lock {cook.lock_file} on {self.pool.describe('hobo')}")
        if skeleton_bytes(self.plan) is not None:
            for role, path in skeleton_targets(self.plan):
                self._say(result, f"dry run: would upload modele.zip to {path} on role {role} "
                                  f"(written by {wcs_user(self.env)}, 0640)")
        for instance in self.plan.environment.instances:
            path = f"{cook.upload_dir.rstrip('/')}/{MARKER}XXXX-{instance.name}.XXXXXXXXXX/recipe.json"
            self._say(result, f"dry run: would upload the recipe of {instance.name} to {path} "
                              f"(private directory 0700, file 0600, owner {cook.user}, superuser password ***)")
            self._say(result, f"dry run: would run: {cook.render(path)} (stopped by the suite after "
                              f"{cook.hard_timeout:g} s: cook.timeout + cook.kill_margin)")
            self._say(result, f"dry run: would remove {path} and release the lock")
