"""The operator's ssh_config is read as `ssh` reads it: ProxyJump chains (each hop looked up, the first
one's own proxy honoured), ProxyCommand tokens, IdentitiesOnly, UserKnownHostsFile, and the
environment's own user/port/key before the file's. And a pool over such a file says the route and
refuses, in one line naming the file and the Host, what it cannot honour.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

import pytest
import yaml

from publik_acceptance.config.environment import load_environment
from publik_acceptance.evidence.probes.remote import RemoteError, SshPool
from publik_acceptance.evidence.probes.sshconfig import MAX_HOPS, Hop, SshConfig, SshConfigError

VALID = Path(__file__).resolve().parent.parent / "corpus" / "valid"
HOME = os.path.expanduser("~")


def _config(tmp_path: Path, text: str) -> SshConfig:
    path = tmp_path / "ssh_config"
    path.write_text(text)
    return SshConfig(path)


def test_no_file_is_a_straight_route() -> None:
    route = SshConfig(None).route("app1.example.fr", 2222, "admin", ["/k"])
    assert route.bastions == () and route.proxy_command is None
    assert route.server == Hop("app1.example.fr", 2222, "admin", ("/k",), name="app1.example.fr")
    assert route.path == ""


def test_proxyjump_chain_each_hop_looked_up(tmp_path: Path) -> None:
    config = _config(tmp_path, """
Host app1
    HostName 10.1.0.5
    ProxyJump ops@jump1:2200,jump2,ssh://[fd00::7]:2022
    IdentityFile ~/.ssh/app_key
Host jump1
    HostName jump1.example.fr
    IdentityFile ~/.ssh/jump_key
    ProxyJump ignored-because-given-on-the-line
Host jump2
    HostName 192.0.2.40
    Port 2201
    User relay
    ProxyJump never-followed
""")
    route = config.route("app1", None, "root", ["/env/key"], ["/env/default"])
    assert [(h.host, h.port, h.user) for h in route.hops] == [
        # jump1's own ProxyJump is honoured (it is the first bastion): ignored-… comes first
        ("ignored-because-given-on-the-line", 22, None),
        ("jump1.example.fr", 2200, "ops"),  # user and port from the ProxyJump entry win over the file
        ("192.0.2.40", 2201, "relay"),  # jump2: later bastions' own ProxyJump is not followed (ssh -J)
        ("fd00::7", 2022, None),
        ("10.1.0.5", 22, "root"),
    ]
    jump1 = route.bastions[1]
    assert jump1.identity_files == ("/env/default", f"{HOME}/.ssh/jump_key") and jump1.name == "jump1"
    assert route.server.identity_files == ("/env/key", f"{HOME}/.ssh/app_key")
    assert route.server.known_hosts_name == "10.1.0.5" and route.bastions[3].known_hosts_name == "[fd00::7]:2022"
    assert route.path == (" via bastion ignored-because-given-on-the-line:22, bastion ops@jump1.example.fr:2200, "
                          "bastion relay@192.0.2.40:2201, bastion fd00::7:2022")


def test_first_of_proxyjump_and_proxycommand_wins(tmp_path: Path) -> None:
    config = _config(tmp_path, """
Host a
    ProxyCommand nc %h %p
Host b
    ProxyJump none
Host *
    ProxyJump bastion
""")
    assert config.route("a").proxy_command == "nc a 22" and config.route("a").bastions == ()
    assert config.route("b").bastions == () and config.route("b").proxy_command is None
    assert [h.host for h in config.route("c").bastions] == ["bastion"]
    assert config.route("bastion").bastions == ()  # a bastion matching `Host *` is not its own bastion


def test_proxycommand_tokens_use_the_environment_port_and_user(tmp_path: Path) -> None:
    config = _config(tmp_path, """
Host app1
    HostName 10.1.0.5
    Port 2022
    User fromconfig
    ProxyCommand ~/bin/connect --to %h:%p --as %r --alias %n --literal 100%% "two words"
""")
    assert config.route("app1").proxy_command == (
        f"{HOME}/bin/connect --to 10.1.0.5:2022 --as fromconfig --alias app1 --literal 100% 'two words'")
    # servers.<role>: "admin@app1" with port: 2200 act like ssh -l admin -p 2200
    assert config.route("app1", 2200, "admin").proxy_command == (
        f"{HOME}/bin/connect --to 10.1.0.5:2200 --as admin --alias app1 --literal 100% 'two words'")
    plain = _config(tmp_path, "Host x\n    ProxyCommand nc %h %p %r\n").route("x")
    assert plain.proxy_command == f"nc x 22 {getpass.getuser()}"


def test_first_bastion_behind_a_proxycommand(tmp_path: Path) -> None:
    config = _config(tmp_path, """
Host app1
    ProxyJump jump
Host jump
    HostName jump.example.fr
    ProxyCommand corkscrew proxy.example.fr 8080 %h %p
""")
    route = config.route("app1")
    assert route.proxy_command == "corkscrew proxy.example.fr 8080 jump.example.fr 22"
    assert [h.host for h in route.hops] == ["jump.example.fr", "app1"]
    assert route.path == " via ProxyCommand `corkscrew proxy.example.fr 8080 jump.example.fr 22`, bastion " \
                         "jump.example.fr:22"


def test_identities_only_and_user_known_hosts_file(tmp_path: Path) -> None:
    config = _config(tmp_path, """
Host app1
    IdentityFile /keys/one
    IdentityFile /keys/two
    IdentitiesOnly yes
    UserKnownHostsFile ~/.ssh/known_hosts.site /etc/site/known_hosts
Host app2
    IdentitiesOnly no
""")
    app1 = config.route("app1", identity_files=["/keys/two", "/env/key"]).server
    assert app1.identities_only is True
    assert app1.identity_files == ("/keys/two", "/env/key", "/keys/one")  # each key once, environment's first
    assert app1.known_hosts == (f"{HOME}/.ssh/known_hosts.site", "/etc/site/known_hosts")
    app2 = config.route("app2").server
    assert app2.identities_only is False and app2.known_hosts == ()


@pytest.mark.parametrize(("text", "message"), [
    ("Host a\n    ProxyJump b\nHost b\n    ProxyJump a\n", "a ProxyJump loop?"),
    ("Host a\n    ProxyJump ops@:22\n", "ProxyJump entry 'ops@:22': expected [user@]host[:port]"),
    ("Host a\n    ProxyJump b:99999\n", "ProxyJump entry 'b:99999'"),
    ("Host a\n    ProxyCommand nc %h %x\n", "unknown token %x"),
    ("Host a\n    ProxyCommand nc 'unclosed\n", "ProxyCommand \"nc 'unclosed\": No closing quotation"),
    ("Host a\n    Port twenty\n", "Port 'twenty' is not a port number"),
])
def test_what_cannot_be_honoured_names_file_and_host(tmp_path: Path, text: str, message: str) -> None:
    config = _config(tmp_path, text)
    with pytest.raises(SshConfigError) as raised:
        config.route("a")
    assert str(raised.value).startswith(f"ssh.config {tmp_path / 'ssh_config'}, Host ")
    assert message in str(raised.value)


def test_loop_bounded(tmp_path: Path) -> None:
    chain = ",".join(f"j{i}" for i in range(MAX_HOPS + 1))
    with pytest.raises(SshConfigError, match="more than 8 bastions"):
        _config(tmp_path, f"Host a\n    ProxyJump {chain}\n").route("a")


def _pool(tmp_path: Path, ssh_config: str, known_hosts: bool = True) -> SshPool:
    data = yaml.safe_load((VALID / "environment.yml").read_text())
    (tmp_path / "recipe.json").write_text((VALID / "recipe.json").read_text())
    (tmp_path / "ssh_config").write_text(ssh_config)
    data["servers"] = {"hobo": {"ssh": "root@app1"}, "database": {"ssh": "admin@db1", "port": 2200}}
    data["ssh"] = {"config": str(tmp_path / "ssh_config"), "connect_timeout": 2}
    if known_hosts:
        (tmp_path / "known_hosts").write_text("")
        data["ssh"]["known_hosts"] = str(tmp_path / "known_hosts")
    (tmp_path / "environment.yml").write_text(yaml.safe_dump(data))
    return SshPool(load_environment(tmp_path / "environment.yml"))


def test_pool_describes_the_route_and_picks_known_hosts(tmp_path: Path) -> None:
    pool = _pool(tmp_path, """
Host app1 db1
    ProxyJump jump
Host jump
    HostName 192.0.2.99
    User ops
    UserKnownHostsFile /site/known_hosts
""", known_hosts=False)
    assert pool.describe("hobo") == "root@app1:22 (role hobo) via bastion ops@192.0.2.99:22"
    assert pool.describe("database") == "admin@db1:2200 (role database) via bastion ops@192.0.2.99:22"
    assert pool.route("hobo").bastions == pool.route("database").bastions  # one shared bastion connection
    # no ssh.known_hosts in the environment: the hop's UserKnownHostsFile, else ~/.ssh/known_hosts
    assert pool._known_hosts(pool.route("hobo").bastions[0]) == [Path("/site/known_hosts")]
    assert pool._known_hosts(pool.endpoint("hobo")) == [Path(HOME) / ".ssh/known_hosts"]


def test_pool_environment_known_hosts_wins(tmp_path: Path) -> None:
    pool = _pool(tmp_path, "Host *\n    UserKnownHostsFile /site/known_hosts\n")
    assert pool._known_hosts(pool.endpoint("hobo")) == [tmp_path / "known_hosts"]


def test_pool_refuses_an_ssh_config_it_cannot_honour_without_network(tmp_path: Path) -> None:
    pool = _pool(tmp_path, "Host app1\n    ProxyJump jump:notaport\n")
    with pytest.raises(RemoteError) as raised:
        pool.run("hobo", "true")
    assert raised.value.hopeless
    assert str(raised.value) == (f"ssh root@app1:22 (role hobo): ssh.config {tmp_path / 'ssh_config'}, Host app1: "
                                 "ProxyJump entry 'jump:notaport': expected [user@]host[:port]")


def test_a_proxycommand_token_stays_one_argument_whatever_the_name_holds(tmp_path: Path) -> None:
    # Hostile HostName: filled into the command after it is split into words, it cannot add an option.
    config = _config(tmp_path, 'Host x\n    HostName "10.0.0.1 -oProxyCommand=evil"\n    ProxyCommand nc %h %p\n')
    assert config.route("x").proxy_command == "nc '10.0.0.1 -oProxyCommand=evil' 22"


def test_include_is_followed_as_ssh_follows_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bastion defined in an included file is honoured (paramiko alone skips Include): globs in
    lexical order, ~/.ssh for a relative path, several patterns, a pattern matching nothing skipped,
    an Include inside a Host block applying under it, and that block going on after it."""
    home = tmp_path / "home"
    (home / ".ssh" / "config.d").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    (home / ".ssh" / "config.d" / "10-bastion.conf").write_text(
        "Host jump\n    HostName bastion.example.fr\n    User relay\n")
    (home / ".ssh" / "config.d" / "20-servers.conf").write_text(
        "Host app1\n    HostName 10.1.0.5\n    ProxyJump jump\n")
    (tmp_path / "db-port.conf").write_text("Port 2222\n")
    (tmp_path / "others.conf").write_text("Host other\n    HostName 10.9.9.9\n")
    config = _config(tmp_path, f"""
Include config.d/*.conf nothing-here-*.conf
Host db1
    Include {tmp_path / "db-port.conf"} "{tmp_path / "others.conf"}"
    HostName 10.1.0.9
""")
    route = config.route("app1", None, "root")
    assert [(h.host, h.port, h.user) for h in route.hops] == [("bastion.example.fr", 22, "relay"),
                                                              ("10.1.0.5", 22, "root")]
    db = config.route("db1", None, "root")
    # others.conf opened a Host block of its own: db1's block goes on after the Include, as in ssh
    assert (db.server.host, db.server.port, db.bastions) == ("10.1.0.9", 2222, ())
    assert config.route("other", None, "root").server.host == "10.9.9.9"
    assert config.route("app2", None, "root").server.port == 22  # the included Port applies under db1 only


def test_an_include_loop_or_an_unreadable_include_is_one_line_naming_the_file(tmp_path: Path) -> None:
    loop = tmp_path / "ssh_config"
    loop.write_text(f"Include {loop}\n")
    with pytest.raises(SshConfigError, match=r"^ssh\.config .*ssh_config: Include nested more than 16 deep"):
        SshConfig(loop)
    (tmp_path / "locked.conf").write_bytes(b"\xff\xfe not utf-8")
    broken = tmp_path / "broken_config"
    broken.write_text(f"Include {tmp_path / 'locked.conf'}\n")
    with pytest.raises(SshConfigError, match=r"broken_config \(included: .*locked\.conf\): cannot read it"):
        SshConfig(broken)
