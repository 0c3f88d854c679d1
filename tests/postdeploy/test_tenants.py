"""Each service's tenant directory: at the catalogue path, owned by the service user, with hobo.json."""

from __future__ import annotations

import pytest

from publik_acceptance.judge.postdeploy import Outcome
from publik_acceptance.judge.waiting import conclude
from publik_acceptance.plan import Target


@pytest.mark.report(column="tenant dir", wait="tenant")
def test_tenant_directory(deployment: Outcome, target: Target) -> None:
    item = deployment.items.get((target.id, "tenant", None))
    conclude(item, deployment, "tenant directory", f"{target.id}: {target.tenant_dir} on role {target.server}")
