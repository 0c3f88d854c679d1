"""The cook, run once over SSH on the hobo server, behind a lock, leaving nothing behind.

Steps: take the platform lock on the hobo server; upload modele.zip to the w.c.s. skeletons
directory when the environment provides one (skipped when the same bytes are already there); upload
the recipe with the superuser password injected, mode 0600, owned by the cook user; run the cook
command under `timeout`, streaming its output (redacted); always remove the recipe and release the
lock, whatever happened.
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

from .environment import Environment
from .plan import Plan
from .probes.remote import RemoteError, SshPool
from .recipe import render_for_cook
from .secrets import redact
from .skeleton import render_for_environment

LineSink = Callable[[str], None]
KILL_GRACE = 10


@dataclass
class CookResult:
    status: str  # "ran", "failed", "dry-run", "not run"
    exit_status: int | None = None
    duration: float = 0.0
    log: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    message: str = ""


class CookRefused(Exception):
    """A precondition for cooking does not hold (lock taken, nothing to cook…)."""


@dataclass
class Cook:
    plan: Plan
    pool: SshPool
    ticket: str | None = None
    dry_run: bool = False
    sink: LineSink = print
    operator: str = field(default_factory=lambda: f"{getpass.getuser()}@{socket.gethostname()}")

    @property
    def env(self) -> Environment:
        return self.plan.environment

    def _say(self, result: CookResult, line: str) -> None:
        stamped = f"{dt.datetime.now(dt.UTC):%H:%M:%S} {redact(line)}"
        result.log.append(stamped)
        self.sink(stamped)

    def run(self) -> CookResult:
        result = CookResult(status="dry-run" if self.dry_run else "failed")
        started = time.monotonic()
        try:
            if self.dry_run:
                self._dry_run(result)
                return result
            token = self._lock(result)
            try:
                self._upload_skeletons(result)
                for instance in self.plan.environment.instances:
                    self._cook_instance(instance.name, result)
                    if result.status == "failed":
                        break
            finally:
                self._unlock(token, result)
        except (RemoteError, CookRefused) as exc:
            result.status = "failed" if result.status != "not run" else result.status
            result.message = redact(str(exc))
            self._say(result, f"ERROR: {result.message}")
        finally:
            result.duration = time.monotonic() - started
        return result

    # -- lock -----------------------------------------------------------------------------------
    def _lock(self, result: CookResult) -> str:
        token = secrets.token_hex(8)
        path = shlex.quote(self.env.cook.lock_file)
        content = (f"platform={self.env.platform} ticket={self.ticket or '-'} operator={self.operator} "
                   f"started={dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ} token={token}")
        script = (f"mkdir -p \"$(dirname {path})\" && (set -C; umask 077; printf '%s\\n' {shlex.quote(content)} "
                  f"> {path}) 2>/dev/null || {{ echo LOCKED; cat {path} 2>/dev/null; exit 3; }}")
        outcome = self.pool.run("hobo", f"{self._sudo()}sh -c {shlex.quote(script)}")
        if outcome.exit_status != 0:
            result.status = "not run"
            holder = outcome.stdout.replace("LOCKED", "").strip() or "unknown holder"
            raise CookRefused(f"another cook holds the lock {self.env.cook.lock_file} on the hobo server "
                              f"({holder}); wait for it, or remove the file if that run is dead")
        self._say(result, f"lock taken: {self.env.cook.lock_file} ({content})")
        return token

    def _unlock(self, token: str, result: CookResult) -> None:
        path = shlex.quote(self.env.cook.lock_file)
        script = f"grep -q {shlex.quote('token=' + token)} {path} && rm -f {path}"
        try:
            self.pool.run("hobo", f"{self._sudo()}sh -c {shlex.quote(script)}")
            self._say(result, "lock released")
        except RemoteError as exc:
            self._say(result, f"WARNING: could not release the lock {self.env.cook.lock_file}: {exc}")

    # -- uploads --------------------------------------------------------------------------------
    def _sudo(self, user: str | None = None) -> str:
        login = self.env.servers["hobo"].user
        if user is not None:
            return "" if login == user else f"sudo -n -u {shlex.quote(user)} "
        return "" if login == "root" else "sudo -n "

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

    def _upload_skeletons(self, result: CookResult) -> None:
        data = self._skeleton_bytes()
        if data is None:
            return
        digest = hashlib.sha256(data).hexdigest()
        for role, path in self._skeleton_targets():
            login = self.env.servers[role].user
            sudo = "" if login == "root" else "sudo -n "
            quoted = shlex.quote(path)
            check = self.pool.run(role, f"{sudo}sha256sum {quoted} 2>/dev/null || true")
            if check.stdout.split()[:1] == [digest]:
                self._say(result, f"skeleton {path} already up to date (sha256 {digest[:12]}…)")
                continue
            tmp = shlex.quote(f"{path}.upload-{secrets.token_hex(4)}")
            script = (f"umask 027; mkdir -p \"$(dirname {quoted})\" && cat > {tmp} && chown wcs:wcs {tmp} && "
                      f"chmod 0640 {tmp} && mv -f {tmp} {quoted} || {{ rm -f {tmp}; exit 1; }}")
            upload = self.pool.run(role, f"{sudo}sh -c {shlex.quote(script)}", stdin=data)
            if upload.exit_status != 0:
                raise CookRefused(f"could not upload the skeleton to {path} on role {role}: "
                                  f"{redact(upload.stderr.strip()) or 'exit ' + str(upload.exit_status)}")
            result.actions.append(f"uploaded {path}")
            self._say(result, f"skeleton uploaded to {path} (owner wcs, mode 0640, sha256 {digest[:12]}…)")

    # -- the cook -------------------------------------------------------------------------------
    def _cook_instance(self, instance: str, result: CookResult) -> None:
        recipe = self.plan.recipes[instance]
        password = self.plan.instance(instance).superuser_password.resolve() if recipe.has_superuser() else None
        document = render_for_cook(recipe, password).encode()
        cook = self.env.cook
        path = f"{cook.upload_dir.rstrip('/')}/publik-acceptance-{self.env.platform}-{instance}-" \
               f"{secrets.token_hex(6)}.json"
        quoted = shlex.quote(path)
        as_cook_user = self._sudo(cook.user)
        write = self.pool.run("hobo", f"{as_cook_user}sh -c {shlex.quote(f'umask 077; cat > {quoted}')}",
                              stdin=document)
        if write.exit_status != 0:
            raise CookRefused(f"could not write the recipe to {path} as {cook.user}: "
                              f"{redact(write.stderr.strip()) or 'exit ' + str(write.exit_status)}")
        result.actions.append(f"uploaded recipe {path} (mode 0600, owner {cook.user})")
        try:
            command = cook.command.format(recipe=quoted)
            remote = f"timeout --kill-after={KILL_GRACE} {int(cook.timeout)} {command}"
            self._say(result, f"$ {command}")
            started = time.monotonic()

            def echo(stream: str, line: str) -> None:
                self._say(result, f"{'!' if stream == 'stderr' else '|'} {line}")

            run = self.pool.run("hobo", remote, timeout=cook.timeout + KILL_GRACE + 5, on_line=echo)
            result.exit_status = run.exit_status
            elapsed = time.monotonic() - started
            if run.exit_status == 124 or run.exit_status == 137:
                result.status = "failed"
                result.message = f"cook of {instance} timed out after {cook.timeout:g} s (cook.timeout)"
            elif run.exit_status != 0:
                result.status = "failed"
                result.message = f"cook of {instance} exited {run.exit_status} after {elapsed:.1f} s"
            else:
                result.status = "ran"
                result.message = f"cook of {instance} finished in {elapsed:.1f} s"
            self._say(result, result.message)
        finally:
            self._remove(path, as_cook_user, result)

    def _remove(self, path: str, as_cook_user: str, result: CookResult) -> None:
        quoted = shlex.quote(path)
        try:
            script = f"rm -f {quoted} && ! test -e {quoted}"
            done = self.pool.run("hobo", f"{as_cook_user}sh -c {shlex.quote(script)}")
        except RemoteError as exc:
            self._say(result, f"WARNING: could not remove {path} (it holds the superuser password): {exc}")
            return
        if done.exit_status == 0:
            self._say(result, f"recipe {path} removed")
        else:
            self._say(result, f"WARNING: {path} may still exist on the hobo server: remove it by hand")

    def _dry_run(self, result: CookResult) -> None:
        cook = self.env.cook
        self._say(result, f"dry run: would take the lock {cook.lock_file} on {self.pool.describe('hobo')}")
        if self._skeleton_bytes() is not None:
            for role, path in self._skeleton_targets():
                self._say(result, f"dry run: would upload modele.zip to {path} on role {role} (owner wcs, 0640)")
        for instance in self.plan.environment.instances:
            path = f"{cook.upload_dir.rstrip('/')}/publik-acceptance-{self.env.platform}-{instance.name}-XXXX.json"
            self._say(result, f"dry run: would upload the recipe of {instance.name} to {path} "
                              f"(0600, owner {cook.user}, superuser password ***)")
            self._say(result, f"dry run: would run: {cook.command.format(recipe=path)} (timeout {cook.timeout:g} s)")
            self._say(result, f"dry run: would remove {path} and release the lock")
