"""On every address, the page or redirect chain each service must show once deployed."""

from __future__ import annotations

import pytest

from publik_acceptance.evidence.preflight import Frontend
from publik_acceptance.judge.checks import skip_unchecked
from publik_acceptance.judge.postdeploy import Outcome, frontend_pages
from publik_acceptance.judge.waiting import conclude


@pytest.mark.report(column="page / redirect", wait="page")
def test_page(deployment: Outcome, frontend: Frontend) -> None:
    target = frontend.target
    if frontend.address is None:
        skip_unchecked(f"{target.hostname} does not resolve: nothing to fetch")
    conclude(frontend_pages(deployment, frontend), deployment, "page after deployment",
             f"GET https://{target.hostname}/ via {frontend.address}: expected {target.expect.describe()}")
