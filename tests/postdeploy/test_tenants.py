"""Each service's tenant directory: at the catalogue path (w.c.s.: or its old location /var/lib/wcs/<host>),
owned by the service user, with hobo.json."""

from __future__ import annotations

import pytest

from publik_acceptance.judge.postdeploy import Outcome
from publik_acceptance.judge.waiting import conclude
from publik_acceptance.plan import Target


@pytest.mark.report(column="tenant dir", wait="tenant")
def test_tenant_directory(deployment: Outcome, target: Target) -> None:
    item = deployment.items.get((target.id, "tenant", None))
    where = target.tenant_dir + (f" or {target.legacy_tenant_dir}" if target.legacy_tenant_dir else "")
    conclude(item, deployment, "tenant directory", f"{target.id}: {where} on role {target.server}")
