"""How a command on a server runs as root or as a service user: the one rule, from who the SSH login really is.

The login user is the one the connection really uses: servers.<role>.ssh's user, else the ssh_config's
`User` for that host, else (as ssh and paramiko do) this machine's own user name. A command runs as
it is when the login already is the user it must run as; otherwise through `sudo -n` (never a
password prompt that would hang until the command timeout: a missing right fails at once, saying so
on stderr).
"""

from __future__ import annotations

import getpass
import shlex
from dataclasses import dataclass

from publik_acceptance.evidence.probes.remote import SshPool


@dataclass(frozen=True)
class Privilege:
    """The SSH login of one server, and the prefixes that run a command as root or as another user."""

    login: str

    @property
    def sudo_for_root(self) -> bool:
        """Whether a command as root needs `sudo -n` (the login is not root)."""
        return self.login != "root"

    @property
    def root(self) -> str:
        """The prefix that runs a command as root: nothing when the login is root."""
        return "sudo -n " if self.sudo_for_root else ""

    def as_user(self, user: str) -> str:
        """The prefix that runs a command as `user` (quoted): nothing when the login is that user.
        Root goes through sudo too, so that files are made with that user's ownership and umask."""
        if user == self.login:
            return ""
        return "sudo -n " if user == "root" else f"sudo -n -u {shlex.quote(user)} "

    def needs_sudo_as(self, user: str) -> bool:
        """Whether running as `user` goes through sudo (a right to ask of the server's sudoers)."""
        return self.as_user(user) != ""


def login_user(pool: SshPool, role: str) -> str:
    """Who the SSH login of `role` really is, after the ssh_config (which may set `User`)."""
    return pool.endpoint(role).user or getpass.getuser()


def privilege(pool: SshPool, role: str) -> Privilege:
    """The privilege rule of `role`'s SSH login."""
    return Privilege(login_user(pool, role))
