"""An openssh-server of the sandbox's own: the "servers" the suite reaches, as it reaches real ones.

Key authentication only, root by key. `StrictModes no` because the keys live under /tmp;
`UsePAM no` because there is no PAM session to open. sshd insists on /run/sshd (privilege
separation); it is created if missing and then removed at down.

With a bastion (`inv sandbox.up --bastion`), the servers are reachable only through a second sshd,
as production servers behind a jump host are. "Only" is real, not a convention: the bastion's sshd
runs in a network namespace of its own, joined to this machine by a veth pair (a private link in
198.18.0.0/30, RFC 2544's range for test networks, never routed). So its forwarded connections come
from its own address on that link, and the servers' sshd, listening on the other end, lets in
nobody else (`AllowUsers *@<bastion>`): a direct login from this machine is refused, a login
through the bastion passes. No firewall is needed (iproute2 only). The generated ssh_config says
what an operator's would: `ProxyJump` to the bastion, with its own key (`IdentitiesOnly`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from publik_sandbox import procs
from publik_sandbox.config import Network

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
IP = "/usr/sbin/ip"
PRIVSEP_DIR = Path("/run/sshd")
BASTION_ALIAS = "publik-bastion"  # the bastion's Host in the generated ssh_config


def _keygen(path: Path, comment: str) -> None:
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, timeout=30, stdin=subprocess.DEVNULL)


def known_hosts_line(host: str, port: int, public_key: str) -> str:
    name = host if port == 22 else f"[{host}]:{port}"
    keytype, key = public_key.split()[:2]
    return f"{name} {keytype} {key}\n"


def server_address(network: Network, bastion: bool) -> str:
    """Where the servers' sshd listens: its loopback address, or its end of the bastion's private link."""
    return network.bastion_link[0] if bastion else network.ssh


def bastion_dir(directory: Path) -> Path:
    return directory / "bastion"


def ssh_config_path(directory: Path) -> Path:
    return directory / "ssh_config"


def _sshd_config(listen: str, port: int, directory: Path, extra: list[str]) -> str:
    return "\n".join(
        [
            f"ListenAddress {listen}",
            f"Port {port}",
            f"HostKey {directory / 'ssh_host_ed25519_key'}",
            f"PidFile {directory}/sshd.pid",
            f"AuthorizedKeysFile {directory}/authorized_keys",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "PrintMotd no",
            "LoginGraceTime 20",
            "MaxStartups 50:30:100",
            "MaxSessions 50",
            "ClientAliveInterval 30",
            *extra,
            "",
        ]
    )


def prepare(directory: Path, network: Network, known_hosts_mode: str = "ok", bastion: bool = False) -> None:
    """Host key, client key, authorized_keys, known_hosts and sshd_config (and the bastion's, with one).

    known_hosts_mode: "ok", "unknown" (empty file) or "changed" (another key for the host); it is
    about the servers' key: the bastion's is always known.
    """
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    host_key = directory / "ssh_host_ed25519_key"
    client_key = directory / "id_ed25519"
    _keygen(host_key, "publik-sandbox-host")
    _keygen(client_key, "publik-sandbox-client")
    (directory / "authorized_keys").write_text((directory / "id_ed25519.pub").read_text())
    address = server_address(network, bastion)
    known = ""
    if known_hosts_mode == "ok":
        known = known_hosts_line(address, network.ssh_port, (directory / "ssh_host_ed25519_key.pub").read_text())
    elif known_hosts_mode == "changed":
        other = directory / "previous_host_key"
        _keygen(other, "publik-sandbox-previous-host")
        known = known_hosts_line(address, network.ssh_port, (directory / "previous_host_key.pub").read_text())
        other.unlink()
    # Behind the bastion, the servers take logins from the bastion's address only.
    extra = [f"AllowUsers *@{network.bastion_link[1]}"] if bastion else []
    (directory / "sshd_config").write_text(_sshd_config(address, network.ssh_port, directory, [
        *extra, "Subsystem sftp /usr/lib/openssh/sftp-server"]))
    if bastion:
        known += _prepare_bastion(directory, network)
    (directory / "known_hosts").write_text(known)


def _prepare_bastion(directory: Path, network: Network) -> str:
    """The bastion's keys and sshd_config, and the ssh_config an operator would write; returns the
    bastion's known_hosts line."""
    jump = bastion_dir(directory)
    jump.mkdir(mode=0o700)
    _keygen(jump / "ssh_host_ed25519_key", "publik-sandbox-bastion-host")
    _keygen(jump / "id_ed25519", "publik-sandbox-bastion-client")
    (jump / "authorized_keys").write_text((jump / "id_ed25519.pub").read_text())
    server = f"{network.bastion_link[0]}:{network.ssh_port}"
    # A relay and nothing else: no shell, no terminal, forwarding to the servers' sshd only.
    (jump / "sshd_config").write_text(_sshd_config(network.bastion_link[1], network.ssh_port, jump, [
        "AllowTcpForwarding yes", f"PermitOpen {server}", "PermitTTY no", "X11Forwarding no",
        "AllowAgentForwarding no", "PermitTunnel no", "GatewayPorts no", "ForceCommand /bin/false"]))
    ssh_config_path(directory).write_text("\n".join([
        "# Generated by the sandbox: its servers are reachable through the bastion only.",
        f"Host {network.bastion_link[0]}",
        f"    ProxyJump {BASTION_ALIAS}",
        f"Host {BASTION_ALIAS}",
        f"    HostName {network.bastion_link[1]}",
        f"    Port {network.ssh_port}",
        "    User root",
        f"    IdentityFile {jump / 'id_ed25519'}",
        "    IdentitiesOnly yes",
        "",
    ]))
    return known_hosts_line(network.bastion_link[1], network.ssh_port, (jump / "ssh_host_ed25519_key.pub").read_text())


def ensure_privsep_dir() -> bool:
    """Create /run/sshd when missing; True when we created it (so down removes it)."""
    if PRIVSEP_DIR.exists():
        return False
    PRIVSEP_DIR.mkdir(mode=0o755, parents=True)
    return True


def start(directory: Path, network: Network, run_dir: Path, log_dir: Path, bastion: bool = False) -> subprocess.Popen:
    proc = procs.start("sshd", [SSHD, "-D", "-e", "-f", str(directory / "sshd_config")], run_dir, log_dir)
    procs.wait_tcp(server_address(network, bastion), network.ssh_port, timeout=5, proc=proc)
    return proc


# -- the bastion's private link -------------------------------------------------------------------
def _ip(*args: str) -> None:
    done = subprocess.run([IP, *args], capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise procs.StartError(f"ip {' '.join(args)}: {done.stderr.strip() or f'exit {done.returncode}'}")


def link_exists(network: Network) -> bool:
    return (Path("/run/netns") / network.bastion_netns).exists() or Path(
        f"/sys/class/net/{network.bastion_veth[0]}").exists()


def create_link(network: Network) -> None:
    """The bastion's network namespace and the veth pair joining it to this machine, addresses up."""
    ns, (outside, inside), (server, bastion) = network.bastion_netns, network.bastion_veth, network.bastion_link
    _ip("netns", "add", ns)
    _ip("link", "add", outside, "type", "veth", "peer", "name", inside, "netns", ns)
    _ip("addr", "add", f"{server}/30", "dev", outside)
    _ip("link", "set", outside, "up")
    _ip("-n", ns, "addr", "add", f"{bastion}/30", "dev", inside)
    _ip("-n", ns, "link", "set", inside, "up")
    _ip("-n", ns, "link", "set", "lo", "up")


def remove_link(netns: str) -> None:
    """Delete the namespace; its end of the veth pair goes with it, and so does ours."""
    if (Path("/run/netns") / netns).exists():
        _ip("netns", "delete", netns)


def start_bastion(directory: Path, network: Network, run_dir: Path, log_dir: Path) -> subprocess.Popen:
    # `ip netns exec` execs sshd in the namespace: the recorded PID is sshd's.
    config = bastion_dir(directory) / "sshd_config"
    proc = procs.start("bastion", [IP, "netns", "exec", network.bastion_netns, SSHD, "-D", "-e", "-f", str(config)],
                       run_dir, log_dir)
    procs.wait_tcp(network.bastion_link[1], network.ssh_port, timeout=5, proc=proc)
    return proc
