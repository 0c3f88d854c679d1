"""Names as the servers say them, against the sandbox: a passing run's evidence says where the w.c.s.
tenant was found and what each Django service's own list_tenants reported."""

from __future__ import annotations

from pathlib import Path

from publik_acceptance.report import compact
from selftests.rig import Rig

from .suite_runner import run_suite


def test_old_location_accepted_and_every_list_tenants_agreeing_are_said(rig: Rig, tmp_path: Path) -> None:
    rig.up("wcs-old-location")
    wcs = rig.service("wcs")
    run = run_suite(rig.sandbox.env_file, "--phase", "all", tmp=tmp_path)
    assert run.exit_code == 0 and not run.failed, run.describe() + run.output[-3000:]
    assert (rig.paths.root / "var/lib/wcs" / wcs.host).is_dir(), "the fault did not deploy at the old location"
    assert not (rig.paths.root / "var/lib/wcs/tenants" / wcs.host).exists()
    (html,) = (tmp_path / "reports").glob("*.html")
    text = compact.readable(html.read_text())  # the rows' evidence, decoded as the report's loader does
    assert f"var/lib/wcs/{wcs.host} (w.c.s." in text and "old location), not under" in text
    for service in rig.services():
        if service.kind == "wcs":
            continue
        assert f"agrees: schema {service.host.replace('.', '_').replace('-', '_')} for {service.host}" in text, (
            f"no list_tenants agreement said for {service.host}")
