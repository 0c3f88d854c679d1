"""An example of a site's own postdeploy check, once per w.c.s. Target: copy it into
site_checks/postdeploy/. It runs once the deployment has settled after the cook, like ours
(`deployment` is that settled state, for checks that want to read it); with `target`, `host` is the
server holding that Target's tenant, and `report(column=…)` gives it a column of the per-service table.
"""

from __future__ import annotations

import pytest
from testinfra.host import Host

from publik_acceptance.judge.postdeploy import Outcome
from publik_acceptance.plan import Target


@pytest.mark.services("wcs")
@pytest.mark.report(column="site")
def test_site_wcs_tenant_not_world_writable(deployment: Outcome, target: Target, host: Host) -> None:
    tenant = host.file(target.tenant_dir)
    assert tenant.is_directory, f"{target.tenant_dir} is missing on role {target.server}"
    assert not tenant.mode & 0o002, f"{target.tenant_dir} is world-writable (mode {tenant.mode:04o}): chmod o-w"
