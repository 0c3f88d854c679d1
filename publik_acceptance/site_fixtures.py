"""The fixtures a site's own checks get beyond ours: `host`, a testinfra Host on the run's SSH connection.

Registered by the front door once every plugin is loaded: pytest-testinfra's own plugin defines a
`host` fixture too (a connection of its own, from --hosts), and the fixture registered last wins.
"""

from __future__ import annotations

import pytest
import testinfra.host

from publik_acceptance.evidence.probes.remote import RemoteError
from publik_acceptance.pytest_plugin import RunContext


@pytest.fixture
def host(run: RunContext, server_role: str) -> testinfra.host.Host:
    """The server of `server_role` as a testinfra Host (`host.file(…)`, `host.user(…)`, `host.run(…)`),
    on the run's own SSH connection: host keys verified, ssh_config honoured, commands bounded by
    ssh.command_timeout, and run through `sudo -n` unless the login is root.

    A check runs once per server role, or on those named by `@pytest.mark.role("wcs", …)` (a role under
    `servers`, or a service kind: the role holding its tenants); a check that also takes `target` runs
    once per Target, on the server holding that Target's tenant."""
    try:
        return run.hosts.get(server_role)
    except RemoteError as exc:
        pytest.fail(str(exc), pytrace=False)
