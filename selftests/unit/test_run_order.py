"""The run's order: phases in deployment order; within the preflight, ours as their evidence comes in
(no network, DNS, SSH facts, database, TLS+HTTP), then a site's; every check kept, none duplicated."""

from __future__ import annotations

from pathlib import Path

from publik_acceptance.pytest_plugin import (
    PHASES,
    PREFLIGHT_ORDER,
    SUITE_DIR,
    _our_preflight_file,
    _run_order,
    phase_of,
)


def test_checks_run_phase_by_phase_and_the_preflight_as_its_evidence_comes_in(tmp_path: Path) -> None:
    site = tmp_path / "site_checks"
    (site / "preflight").mkdir(parents=True)
    (site / "postdeploy").mkdir()
    files = [
        SUITE_DIR / "postdeploy" / "test_pages.py",
        site / "preflight" / "test_ntp.py",
        SUITE_DIR / "preflight" / "test_http.py",
        SUITE_DIR / "preflight" / "test_database.py",
        site / "postdeploy" / "test_backups.py",
        SUITE_DIR / "preflight" / "test_tls.py",
        SUITE_DIR / "preflight" / "test_recipe.py",
        SUITE_DIR / "deploy" / "test_cook.py",
        SUITE_DIR / "preflight" / "test_hosts.py",
        SUITE_DIR / "preflight" / "test_dns.py",
    ]
    order = {phase: i for i, phase in enumerate(PHASES)}
    ran = sorted(files, key=lambda path: _run_order(path, phase_of(path, site), order))
    names = [path.name for path in ran]
    assert names[:len(PREFLIGHT_ORDER)] == list(PREFLIGHT_ORDER)
    assert names[len(PREFLIGHT_ORDER):] == ["test_ntp.py", "test_cook.py", "test_pages.py", "test_backups.py"]
    # Network-free checks first, the TLS+HTTP probes (the longest to gather on a fleet) last.
    assert PREFLIGHT_ORDER[0] == "test_recipe.py" and PREFLIGHT_ORDER[-2:] == ("test_tls.py", "test_http.py")
    assert {p.name for p in (SUITE_DIR / "preflight").glob("test_*.py")} == set(PREFLIGHT_ORDER)


def test_our_preflight_files_are_known_through_a_symlinked_checkout(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.symlink_to(SUITE_DIR.parent, target_is_directory=True)
    assert _our_preflight_file(checkout / "tests" / "preflight" / "test_dns.py")
    assert not _our_preflight_file(tmp_path / "site_checks" / "preflight" / "test_dns.py")
