"""The sandbox resolver: dnsmasq, authoritative-like for the zone, nothing else.

`local=/<zone>/` makes unknown names in the zone NXDOMAIN (without it dnsmasq answers REFUSED);
`no-resolv`/`no-hosts` keep the machine's resolv.conf and /etc/hosts out of it. Each hostname
gets two A records (both frontends), which dnsmasq returns together.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from publik_sandbox import procs
from publik_sandbox.config import Network
from publik_sandbox.faults import ActiveFault, hosts_with

DNSMASQ = "/usr/sbin/dnsmasq"


def records(hostnames: list[str], network: Network, faults: list[ActiveFault]) -> list[tuple[str, str]]:
    """(address, hostname) pairs of the zone, faults applied."""
    missing = hosts_with(faults, "dns-missing")
    wrong = hosts_with(faults, "dns-wrong-address")
    out = []
    for host in hostnames:
        if host in missing:
            continue
        first, second = network.frontends
        out.append((first, host))
        out.append((network.nowhere if host in wrong else second, host))
    return out


def write_config(directory: Path, zone: str, network: Network, pairs: list[tuple[str, str]],
                 port: int | None = None) -> Path:
    """`port`: where to listen when not the resolver's own port (behind the latency proxy)."""
    directory.mkdir(parents=True, exist_ok=True)
    hosts = directory / "hosts"
    hosts.write_text("".join(f"{address} {host}\n" for address, host in pairs))
    conf = directory / "dnsmasq.conf"
    conf.write_text(
        "\n".join(
            [
                f"port={port or network.dns_port}",
                f"listen-address={network.dns}",
                "bind-interfaces",
                "no-resolv",
                "no-hosts",
                "no-daemon",
                "log-queries",
                f"local=/{zone}/",
                f"addn-hosts={hosts}",
                "cache-size=0",
                "",
            ]
        )
    )
    return conf


def start(conf: Path, run_dir: Path, log_dir: Path, network: Network, probe_name: str,
          port: int | None = None) -> subprocess.Popen:
    proc = procs.start("dns", [DNSMASQ, f"--conf-file={conf}"], run_dir, log_dir)
    procs.wait_dns(network.dns, port or network.dns_port, probe_name, timeout=5, proc=proc)
    return proc
