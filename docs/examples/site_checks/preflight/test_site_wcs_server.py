"""An example of a site's own preflight checks: copy it into site_checks/preflight/ (or the folder the
environment's `site_checks` names) to make it part of the gate. It only reads: `id` and `stat`.

`host` is the w.c.s. server as a testinfra Host (https://testinfra.readthedocs.io/en/latest/modules.html),
on the run's own SSH connection; `plan` is the run's Plan (environment, Targets), as our checks get it.
"""

from __future__ import annotations

import stat

import pytest
from testinfra.host import Host

from publik_acceptance.config.catalogue import SERVICE_KINDS
from publik_acceptance.plan import Plan


@pytest.mark.role("wcs")
def test_site_wcs_user_exists(plan: Plan, host: Host) -> None:
    user = plan.environment.service("wcs").owner or SERVICE_KINDS["wcs"].owner
    assert host.user(user).exists, f"no user {user!r} on the w.c.s. server: install the wcs package first"


@pytest.mark.role("wcs")
def test_site_wcs_directory_not_world_writable(plan: Plan, host: Host) -> None:
    path = plan.environment.server_path("/var/lib/wcs")  # under paths.root, as every server path
    directory = host.file(path)
    assert directory.is_directory, f"{path} is not a directory on the w.c.s. server"
    assert not directory.mode & stat.S_IWOTH, (
        f"{path} is world-writable (mode {directory.mode:04o}): chmod o-w {path}")
