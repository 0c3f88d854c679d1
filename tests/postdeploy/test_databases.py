"""Each tenant's schema (Django services) or database with wcs_meta (w.c.s.).

Django services: the schema name the Plan derives is compared with the one the service's own
`list_tenants` reports; when they differ the check fails naming both, and looks for the server's."""

from __future__ import annotations

import pytest

from publik_acceptance.judge.postdeploy import Outcome
from publik_acceptance.judge.waiting import conclude
from publik_acceptance.plan import Target


@pytest.mark.report(column="database", wait="database")
def test_database(deployment: Outcome, target: Target) -> None:
    item = deployment.items.get((target.id, "database", None))
    what = f"schema {target.schema} in {target.database}" if target.schema else f"database {target.database}"
    conclude(item, deployment, "database", f"{target.id}: {what}")
