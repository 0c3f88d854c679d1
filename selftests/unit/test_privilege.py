"""The one sudo rule: who the SSH login really is (after ssh_config), and the prefix to act as root or as a user."""

from __future__ import annotations

import dataclasses
import getpass
import shlex
from pathlib import Path

from publik_acceptance.config.environment import Environment, load_environment
from publik_acceptance.evidence.probes.privilege import Privilege, login_user, privilege
from publik_acceptance.evidence.probes.remote import SshPool

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "valid" / "environment.yml"


def _env(tmp_path: Path, user: str | None, ssh_config: str | None) -> Environment:
    """The valid corpus environment (hobo on app1.example.test), its hobo login `user`, with an ssh_config."""
    env = load_environment(CORPUS)
    hobo = dataclasses.replace(env.servers["hobo"], user=user)
    ssh = env.ssh
    if ssh_config is not None:
        (tmp_path / "ssh_config").write_text(ssh_config)
        ssh = dataclasses.replace(ssh, config=tmp_path / "ssh_config")
    return dataclasses.replace(env, servers={**env.servers, "hobo": hobo}, ssh=ssh)


def test_a_non_root_login_goes_through_sudo_n_and_never_waits_on_a_password() -> None:
    admin = Privilege("admin")
    assert admin.sudo_for_root and admin.root == "sudo -n "
    assert shlex.split(admin.as_user("wcs")) == ["sudo", "-n", "-u", "wcs"]
    assert admin.as_user("root") == "sudo -n " and admin.needs_sudo_as("hobo")


def test_no_sudo_when_the_login_already_is_that_user() -> None:
    assert Privilege("root").root == "" and not Privilege("root").sudo_for_root
    assert Privilege("wcs").as_user("wcs") == "" and not Privilege("wcs").needs_sudo_as("wcs")
    assert Privilege("wcs").root == "sudo -n "
    # root still goes through sudo to act as a service user: the files it makes are that user's
    assert Privilege("root").as_user("hobo") == "sudo -n -u hobo "


def test_a_user_name_is_quoted() -> None:
    assert shlex.split(Privilege("admin").as_user("a b;id"))[-1] == "a b;id"


def test_the_ssh_config_user_decides_when_the_environment_names_none(tmp_path: Path) -> None:
    """servers.hobo.ssh without a user and `User root` in the ssh_config: the login is root, no sudo."""
    pool = SshPool(_env(tmp_path, None, "Host app1.example.test\n    User root\n"))
    assert login_user(pool, "hobo") == "root"
    assert privilege(pool, "hobo").root == ""
    assert privilege(pool, "database").login == "admin"  # its own user, untouched by that Host block


def test_the_environment_user_comes_before_the_ssh_config(tmp_path: Path) -> None:
    """As `ssh -l`: the environment's user wins over the ssh_config's User."""
    pool = SshPool(_env(tmp_path, "admin", "Host app1.example.test\n    User root\n"))
    assert privilege(pool, "hobo") == Privilege("admin")


def test_without_any_user_the_login_is_this_machine_s_user(tmp_path: Path) -> None:
    """As ssh and paramiko do when neither the environment nor the ssh_config names a user."""
    pool = SshPool(_env(tmp_path, None, None))
    assert login_user(pool, "hobo") == getpass.getuser()
