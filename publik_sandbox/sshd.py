"""An openssh-server of the sandbox's own: the "servers" the suite reaches, as it reaches real ones.

Key authentication only, root by key. `StrictModes no` because the keys live under /tmp;
`UsePAM no` because there is no PAM session to open. sshd insists on /run/sshd (privilege
separation); it is created if missing and then removed at down.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from publik_sandbox import procs
from publik_sandbox.config import Network

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
PRIVSEP_DIR = Path("/run/sshd")


def _keygen(path: Path, comment: str) -> None:
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, timeout=30, stdin=subprocess.DEVNULL)


def known_hosts_line(network: Network, public_key: str) -> str:
    host = network.ssh if network.ssh_port == 22 else f"[{network.ssh}]:{network.ssh_port}"
    keytype, key = public_key.split()[:2]
    return f"{host} {keytype} {key}\n"


def prepare(directory: Path, network: Network, known_hosts_mode: str = "ok") -> None:
    """Host key, client key, authorized_keys, known_hosts and sshd_config.

    known_hosts_mode: "ok", "unknown" (empty file) or "changed" (another key for the host).
    """
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    host_key = directory / "ssh_host_ed25519_key"
    client_key = directory / "id_ed25519"
    _keygen(host_key, "publik-sandbox-host")
    _keygen(client_key, "publik-sandbox-client")
    (directory / "authorized_keys").write_text((directory / "id_ed25519.pub").read_text())
    known = ""
    if known_hosts_mode == "ok":
        known = known_hosts_line(network, (directory / "ssh_host_ed25519_key.pub").read_text())
    elif known_hosts_mode == "changed":
        other = directory / "previous_host_key"
        _keygen(other, "publik-sandbox-previous-host")
        known = known_hosts_line(network, (directory / "previous_host_key.pub").read_text())
        other.unlink()
    (directory / "known_hosts").write_text(known)
    (directory / "sshd_config").write_text(
        "\n".join(
            [
                f"ListenAddress {network.ssh}",
                f"Port {network.ssh_port}",
                f"HostKey {host_key}",
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
                "Subsystem sftp /usr/lib/openssh/sftp-server",
                "",
            ]
        )
    )


def ensure_privsep_dir() -> bool:
    """Create /run/sshd when missing; True when we created it (so down removes it)."""
    if PRIVSEP_DIR.exists():
        return False
    PRIVSEP_DIR.mkdir(mode=0o755, parents=True)
    return True


def start(directory: Path, network: Network, run_dir: Path, log_dir: Path) -> subprocess.Popen:
    proc = procs.start("sshd", [SSHD, "-D", "-e", "-f", str(directory / "sshd_config")], run_dir, log_dir)
    procs.wait_tcp(network.ssh, network.ssh_port, timeout=5, proc=proc)
    return proc
