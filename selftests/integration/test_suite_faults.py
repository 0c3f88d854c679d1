"""The suite against the sandbox: green when healthy, and for each fault exactly the expected tests fail.

Each fault test brings the sandbox up with that fault, runs the real command (`pytest --env=…
--phase all`), and compares the set of failed test ids with what the fault must break, checking that
each failure names the hostname and the cause.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from selftests.clients import wait_for
from selftests.rig import Rig

from .locks import leftovers, lock_path, plant_lock, start_time
from .suite_runner import SuiteRun, finish_suite, run_suite, start_suite, variant

F1, F2 = "127.0.0.11", "127.0.0.12"
DEAD = "127.0.0.19"


def target_id(rig: Rig, name: str) -> str:
    service = rig.service(name)
    return f"{service.kind}|{service.host}"


def frontends(rig: Rig, name: str, test: str, *addresses: str) -> set[str]:
    tid = target_id(rig, name)
    return {f"{test}[{tid}|{address}]" for address in (addresses or rig.frontends)}


def per_target(rig: Rig, name: str, *tests: str) -> set[str]:
    tid = target_id(rig, name)
    return {f"{test}[{tid}]" for test in tests}


def login_checks(rig: Rig) -> set[str]:
    """Every federation check the healthy sandbox must pass: IdP and SP metadata, each service's login
    redirect (w.c.s.'s back office as its own), the real login on the agent portal and the back office."""
    ids = set()
    for s in rig.services():
        tid = f"{s.kind}|{s.host}"
        if s.kind == "authentic":
            ids.add(f"test_idp_metadata[{tid}]")
            continue
        ids |= {f"test_sp_metadata[{tid}]", f"test_login_redirect[{tid}]"}
        if s.kind == "wcs":
            ids |= {f"test_login_redirect[wcs-backoffice|{s.host}]", f"test_login[{tid}]"}
    return ids | {f"test_login[{target_id(rig, 'portal-agent')}]"}


def roles(rig: Rig) -> set[str]:
    return {f"test_ssh[{role}|root@127.0.0.15]" for role in ("database", "hobo", "wcs")}


# fault → (expected failed test ids, words each failure message must contain besides the hostname)
PREFLIGHT = {
    "dns-missing": (lambda r: per_target(r, "portal-agent", "test_dns"), ["NXDOMAIN"]),
    "dns-wrong-address": (lambda r: per_target(r, "wcs", "test_dns")
                          | frontends(r, "wcs", "test_tls", DEAD) | frontends(r, "wcs", "test_http_404", DEAD),
                          [DEAD]),
    "tls-expired": (lambda r: frontends(r, "authentic", "test_tls"), ["expired"]),
    "tls-wrong-name": (lambda r: frontends(r, "passerelle", "test_tls"), ["mismatch"]),
    "tls-untrusted": (lambda r: frontends(r, "fargo", "test_tls"), ["issuer"]),
    "tls-expiring-soon": (lambda r: frontends(r, "hobo", "test_tls"), ["days left"]),
    "tls-one-frontend": (lambda r: frontends(r, "portal-user", "test_tls", F2), ["expired"]),
    "http-already-200": (lambda r: frontends(r, "portal-agent", "test_http_404"), ["already answers"]),
    "http-502": (lambda r: frontends(r, "passerelle", "test_http_404"), ["502"]),
    "http-hang": (lambda r: frontends(r, "fargo", "test_http_404"), ["no HTTP response"]),
    "http-no-vhost": (lambda r: frontends(r, "authentic", "test_http_404"),
                      ["frontend answers itself", "<center>nginx</center>", "Server: nginx", "add the vhost"]),
    "skeleton-missing": (lambda r: per_target(r, "wcs", "test_wcs_skeleton"), ["absent"]),
    "skeleton-corrupt": (lambda r: per_target(r, "wcs", "test_wcs_skeleton"), ["not a valid zip"]),
    "skeleton-world-readable": (lambda r: per_target(r, "wcs", "test_wcs_skeleton"), ["0644"]),
    "hobo-manage-missing": (lambda r: {"test_cook_command_allowed"}, ["hobo-manage"]),
    "db-no-createdb": (lambda r: {"test_createdb_role"}, ["CREATEDB"]),
    "db-missing": (lambda r: {"test_service_database[passerelle|passerelle]"}, ["absent"]),
    "ssh-host-key-unknown": (roles, ["unknown"]),
    "ssh-host-key-changed": (roles, ["CHANGED"]),
    "tenants-all-deployed": (lambda r: {t for s in r.services() for t in (
        per_target(r, s.host, "test_not_yet_deployed") | frontends(r, s.host, "test_http_404"))},
        {"test_not_yet_deployed": ["already deployed"], "test_http_404": ["already answers"]}),
    "tenants-some-deployed": (lambda r: {t for name in ("hobo", "authentic") for t in (
        per_target(r, name, "test_not_yet_deployed") | frontends(r, name, "test_http_404"))},
        {"test_not_yet_deployed": ["half-deployed"], "test_http_404": ["already answers"]}),
    "wcs-old-location-leftover": (lambda r: per_target(r, "wcs", "test_not_yet_deployed")
                                  | frontends(r, "wcs", "test_http_404"),
                                  {"test_not_yet_deployed": ["/var/lib/wcs/", "(w.c.s.'s old location)"],
                                   "test_http_404": ["already answers"]}),
}

POSTDEPLOY = {
    "deploy-never": (lambda r: per_target(r, "passerelle", "test_tenant_directory", "test_database", "test_theme",
                                          "test_sp_metadata", "test_login_redirect")
                     | frontends(r, "passerelle", "test_page"), ["still"]),
    "deploy-late": (lambda r: set(), []),
    "deploy-beyond-deadline": (lambda r: per_target(r, "portal-agent", "test_tenant_directory", "test_database",
                                                         "test_theme", "test_sp_metadata", "test_login_redirect",
                                                         "test_login")
                               | frontends(r, "portal-agent", "test_page"), ["deadline"]),
    "deploy-wrong-owner": (lambda r: per_target(r, "portal-user", "test_tenant_directory"), ["owned by root"]),
    "deploy-schema-missing": (lambda r: per_target(r, "authentic", "test_database"), ["schema absent"]),
    # Both names: the Plan's and the one authentic's own list_tenants reports (and uses).
    "schema-name-differs": (lambda r: per_target(r, "authentic", "test_database"),
                            ["authentic2-multitenant-manage list_tenants", "reports schema old_", "the Plan derives",
                             "TENANT_MAPPING"]),
    # w.c.s. still serves a tenant at its old location: found there, nothing fails.
    "wcs-old-location": (lambda r: set(), []),
    # Nobody can log in to a w.c.s. without its database: its federation checks fail too, at once, naming it.
    "wcs-database-missing": (lambda r: per_target(r, "wcs", "test_database", "test_sp_metadata", "test_login_redirect",
                                                  "test_login") | frontends(r, "wcs", "test_page")
                             | {f"test_login_redirect[wcs-backoffice|{r.service('wcs').host}]"},
                             {"test_database": ["database"], "test_page": ["database"],
                              "test_sp_metadata": ["database"], "test_login_redirect": ["database"],
                              "test_login": ["cannot log in"]}),
    "wrong-redirect": (lambda r: frontends(r, "wcs", "test_page"), ["302 to"]),
    "portal-error": (lambda r: frontends(r, "portal-user", "test_page"), ["500"]),
    "theme-not-applied": (lambda r: per_target(r, "portal-agent", "test_theme"), ["'publik-legacy'", "'publik'"]),
    "wcs-site-options-lost": (lambda r: per_target(r, "wcs", "test_wcs_site_options"),
                              ["[options] default-to-global-view missing", "skeleton"]),
    # Federation (issue 12): each fault fails exactly the check that shows it.
    # passerelle's / goes through the IdP too: its page check sees the same refusal.
    "saml-sp-unknown": (lambda r: per_target(r, "passerelle", "test_login_redirect")
                        | frontends(r, "passerelle", "test_page"),
                        {"test_login_redirect": ["authentic's unknown-provider page", "register the service with "
                                                 "authentic"],
                         "test_page": ["ends on path /idp/saml2/sso", "no password field"]}),
    "saml-idp-metadata-race": (lambda r: per_target(r, "wcs", "test_login_redirect", "test_login")
                               | {f"test_login_redirect[wcs-backoffice|{r.service('wcs').host}]"},
                               {"test_login_redirect": ["never reaches the IdP", "reachable while it deploys"],
                                "test_login": ["cannot log in", "/backoffice/"]}),
    # …and so does its AuthnRequest's Issuer: the request is not fargo's own.
    "saml-sp-metadata-wrong-host": (lambda r: per_target(r, "fargo", "test_sp_metadata", "test_login_redirect"),
                                    ["is not on"]),
    "saml-superuser-password-wrong": (lambda r: per_target(r, "portal-agent", "test_login")
                                      | per_target(r, "wcs", "test_login"),
                                      ["refused the superuser's credentials", "check the superuser"]),
}


# Cook faults where cook hands the recipe over (test_cook passes) and postdeploy decides: fault →
# (expected failed test ids, words each failure must say, words of the verdict's headline)
COOK = {
    "cook-times-out-waiting": (lambda r: set(), [], "Deployed and verified: cook timed out waiting; postdeploy passed"),
    # passerelle, never deployed: what deploy-never (same default target) fails
    "cook-ok-service-failed": (*POSTDEPLOY["deploy-never"], "Deployed, but the postdeploy checks failed"),
}


Words = list[str] | dict[str, list[str]]  # words every failure must say, or per test function


def check_failures(rig: Rig, run: SuiteRun, expected: set[str], words: Words) -> None:
    failed = set(run.failed)
    assert failed == expected, (
        f"failed but not expected: {sorted(failed - expected)}\n"
        f"expected but not failed: {sorted(expected - failed)} "
        f"(skipped: {[run.skipped[n] for n in sorted(expected - failed) if n in run.skipped]})\n"
        + run.describe() + "\n" + run.output[-3000:])
    for name, text in run.failed.items():
        host = name.split("|")[1].rstrip("]") if "|" in name else ""
        if host.startswith("root@"):
            host = ""
        assert host in text, f"{name}: the message does not name {host}:\n{text}"
        needed = words if isinstance(words, list) else words.get(name.split("[")[0], [])
        for word in needed:
            assert word in text, f"{name}: the message does not say {word!r}:\n{text}"


def test_healthy_flow_is_green_and_cooks_once(rig: Rig, tmp_path: Path) -> None:
    rig.up()
    run = run_suite(rig.sandbox.env_file, "--phase", "all", tmp=tmp_path)
    assert run.exit_code == 0, run.describe() + run.output[-3000:]
    assert not run.failed
    assert all(reason.startswith("not applicable") for reason in run.skipped.values()), run.skipped
    assert "test_cook" in run.passed
    # What the recipe sets is checked, not skipped: set-theme on every tenant, the skeleton on w.c.s.'s.
    themed = {n for n in run.passed if n.startswith("test_theme[")}
    assert themed == {f"test_theme[{s.kind}|{s.host}]" for s in rig.services()}, run.passed
    assert [n for n in run.passed if n.startswith("test_wcs_site_options[")] == [
        f"test_wcs_site_options[{target_id(rig, 'wcs')}]"], run.passed
    # Users can log in (issue 12): every service federated, and the real login passes, none skipped.
    assert login_checks(rig) <= set(run.passed), sorted(login_checks(rig) - set(run.passed))
    invocations = rig.sandbox.cook_invocations()
    assert len(invocations) == 1, invocations
    (only,) = invocations
    assert only["user"] == "hobo"
    assert any(arg.endswith(".json") and "/upload/" in arg for arg in only["argv"]), only
    assert leftovers(rig) == [], "the uploaded recipe (with the password) was left on the server"
    secret_file = rig.paths.state / "secrets" / "superuser_password"
    password = secret_file.read_text().strip()
    assert password not in run.output
    holders = [p for p in rig.paths.state.rglob("*")
               if p.is_file() and p != secret_file and password.encode() in p.read_bytes()]
    assert holders == [], f"the superuser password was written to {holders}"
    assert not lock_path(rig).exists()


@pytest.mark.parametrize("fault", sorted(PREFLIGHT))
def test_preflight_fault(rig: Rig, tmp_path: Path, fault: str) -> None:
    expected, words = PREFLIGHT[fault]
    rig.up(fault)
    run = run_suite(rig.sandbox.env_file, "--phase", "all", tmp=tmp_path)
    check_failures(rig, run, expected(rig), words)
    assert run.exit_code == 1
    assert "test_cook" in run.skipped and "gate closed" in run.skipped["test_cook"]
    assert rig.sandbox.cook_invocations() == [], "the gate let a cook through"


@pytest.mark.parametrize("fault", sorted(POSTDEPLOY))
def test_postdeploy_fault(rig: Rig, tmp_path: Path, fault: str) -> None:
    expected, words = POSTDEPLOY[fault]
    rig.up(fault)
    run = run_suite(rig.sandbox.env_file, "--phase", "all", tmp=tmp_path)
    check_failures(rig, run, expected(rig), words)
    assert "test_cook" in run.passed
    assert run.exit_code == (1 if expected(rig) else 0)


@pytest.mark.parametrize("fault", sorted(COOK))
def test_cook_exit_is_not_the_verdict(rig: Rig, tmp_path: Path, fault: str) -> None:
    """Cook gives up waiting (exit 1) or says all is well (exit 0): postdeploy runs and decides."""
    expected, words, headline = COOK[fault]
    rig.up(fault)
    run = run_suite(rig.sandbox.env_file, "--phase", "all", tmp=tmp_path)
    check_failures(rig, run, expected(rig), words)
    assert "test_cook" in run.passed, run.describe()
    assert headline in run.output, run.output[-3000:]
    assert run.exit_code == (1 if expected(rig) else 0)
    summary = json.loads(next((tmp_path / "reports").glob("*.json")).read_text())
    assert summary["cook"] == ("timed out waiting" if fault == "cook-times-out-waiting" else "ran"), summary
    if fault == "cook-times-out-waiting":  # the report says which service cook gave up waiting for
        page = next((tmp_path / "reports").glob("*.html")).read_text()
        assert f"timeout waiting for {rig.service('wcs').url}" in page
    assert not lock_path(rig).exists()


def test_resume_cooks_again_over_tenants_already_there(rig: Rig, tmp_path: Path) -> None:
    rig.up("tenants-some-deployed")  # hobo and authentic exist: half-deployed
    there = {t for name in ("hobo", "authentic") for t in (
        per_target(rig, name, "test_not_yet_deployed") | frontends(rig, name, "test_http_404"))}
    protected = variant(rig.sandbox.env_file, tmp_path, protected=True)
    refused = run_suite(protected, "--phase", "all", "--resume", tmp=tmp_path)
    assert set(refused.failed) == {"test_cook"} and "--ticket" in refused.failed["test_cook"], refused.describe()
    assert there <= refused.passed, refused.describe()
    assert rig.sandbox.cook_invocations() == [], "--resume cooked a protected platform without a ticket"
    run = run_suite(rig.sandbox.env_file, "--phase", "all", "--resume", tmp=tmp_path)
    assert run.exit_code == 0 and not run.failed, run.describe() + run.output[-3000:]
    assert there <= run.passed and "test_cook" in run.passed, run.describe()
    assert len(rig.sandbox.cook_invocations()) == 1
    summary = json.loads(next((tmp_path / "reports").glob("*.json")).read_text())
    assert "--resume: 2 tenant(s) already there" in summary["gate_detail"], summary["gate_detail"]
    assert all(target_id(rig, name) in summary["gate_detail"] for name in ("hobo", "authentic"))
    assert "--resume: cooking again over 2 tenant(s) already there" in run.output  # the cook's log says it too


def test_resume_still_refuses_what_is_not_a_tenant_of_this_recipe(rig: Rig, tmp_path: Path) -> None:
    # hobo and authentic exist (accepted), but a leftover site answers for portal-agent, which has no tenant.
    rig.up("tenants-some-deployed", "http-already-200")
    run = run_suite(rig.sandbox.env_file, "--phase", "all", "--resume", tmp=tmp_path)
    check_failures(rig, run, frontends(rig, "portal-agent", "test_http_404"), ["already answers"])
    assert per_target(rig, "hobo", "test_not_yet_deployed") <= run.passed, run.describe()
    assert "test_cook" in run.skipped and "gate closed" in run.skipped["test_cook"]
    assert rig.sandbox.cook_invocations() == [], "the gate let a cook through"


def test_cook_failure_is_reported_and_releases_the_lock(rig: Rig, tmp_path: Path) -> None:
    rig.up("cook-fails")
    run = run_suite(rig.sandbox.env_file, "--phase", "all", tmp=tmp_path)
    assert set(run.failed) == {"test_cook"}, run.describe()
    assert "exited 1" in run.failed["test_cook"] and "cook log" in run.failed["test_cook"]
    # Where things stand, looked at once after the failure: which tenants exist, then what to do.
    message = run.failed["test_cook"]
    assert "where things stand: " in message and "tenant(s) exist now" in message, message
    assert "absent: " in message and "to do: " in message, message
    assert all("not run: the cook failed" in reason for name, reason in run.skipped.items()), run.skipped
    assert not lock_path(rig).exists()
    assert leftovers(rig) == []


def test_cook_timeout_is_enforced(rig: Rig, tmp_path: Path) -> None:
    rig.up("cook-hangs")
    # cook-hangs ignores its own --timeout: our hard limit (cook.timeout + cook.kill_margin) stops it.
    env = variant(rig.sandbox.env_file, tmp_path, cook={"timeout": 1, "kill_margin": 1})
    run = run_suite(env, "--phase", "all", tmp=tmp_path)
    assert set(run.failed) == {"test_cook"}, run.describe()
    assert "timed out after 2 s: the suite stopped it" in run.failed["test_cook"]
    assert not lock_path(rig).exists()
    assert leftovers(rig) == []


def test_a_second_cook_is_refused_by_the_lock(rig: Rig, tmp_path: Path) -> None:
    rig.up()
    session = subprocess.Popen(["sleep", "300"])  # the other run's SSH session, still open
    try:
        lock = plant_lock(rig, session_pid=session.pid, session_start=start_time(session.pid))
        holder = (lock / "holder").read_text()
        run = run_suite(rig.sandbox.env_file, "--phase", "all", "--break-lock", tmp=tmp_path)
    finally:
        session.kill()
        session.wait()
    assert set(run.failed) == {"test_cook"}, run.describe()
    assert "another cook holds the lock" in run.failed["test_cook"]
    assert "someone@elsewhere" in run.failed["test_cook"] and "CHG-1" in run.failed["test_cook"]
    assert "is still open" in run.failed["test_cook"], "a live lock must never be broken, even with --break-lock"
    assert (lock / "holder").read_text() == holder, "the other run's lock was touched"
    assert rig.sandbox.cook_invocations() == []


def test_protected_platform_needs_a_ticket(rig: Rig, tmp_path: Path) -> None:
    rig.up()
    env = variant(rig.sandbox.env_file, tmp_path, protected=True)
    run = run_suite(env, "--phase", "all", tmp=tmp_path)
    assert set(run.failed) == {"test_cook"}, run.describe()
    assert "--ticket" in run.failed["test_cook"]
    assert rig.sandbox.cook_invocations() == []
    run = run_suite(env, "--phase", "all", "--ticket", "CHG-42", tmp=tmp_path)
    assert set(run.failed) == {"test_cook"}, run.describe()
    assert "--yes" in run.failed["test_cook"]
    assert rig.sandbox.cook_invocations() == []


def test_dry_run_cooks_nothing(rig: Rig, tmp_path: Path) -> None:
    rig.up()
    run = run_suite(rig.sandbox.env_file, "--phase", "all", "--dry-run", tmp=tmp_path)
    assert "test_cook" in run.passed, run.describe()
    assert "would run: sudo -u hobo" in run.output
    assert rig.sandbox.cook_invocations() == []
    assert all("dry-run" in reason for reason in run.skipped.values()), run.skipped


def test_parity_with_the_mirrored_platform(rig: Rig, tmp_path: Path) -> None:
    rig.up()
    assert run_suite(rig.sandbox.env_file, "--phase", "all", tmp=tmp_path).exit_code == 0
    mirror = {"environment": str(rig.sandbox.env_file)}
    same = variant(rig.sandbox.env_file, tmp_path, mirror_of=mirror)
    run = run_suite(same, "--phase", "postdeploy", "-k", "test_parity", tmp=tmp_path)
    assert run.passed == {"test_parity[moncompte]"}, run.describe()
    # Here, fargo's tenants live elsewhere (so none is found): preprod has one, "prod" does not.
    drifted = variant(rig.sandbox.env_file, tmp_path, mirror_of=mirror,
                      services={"fargo": {"tenants_dir": "/var/lib/fargo-elsewhere/tenants"}})
    run = run_suite(drifted, "--phase", "postdeploy", "-k", "test_parity", tmp=tmp_path)
    assert set(run.failed) == {"test_parity[moncompte]"}, run.describe()
    assert "missing here: " + rig.service("fargo").host in run.failed["test_parity[moncompte]"]


def test_parity_sees_another_skeleton_on_the_mirrored_platform(rig: Rig, tmp_path: Path) -> None:
    """Here, w.c.s. takes its skeleton from another directory, where one option differs from preprod's."""
    import io
    import shutil
    import zipfile

    rig.up()
    assert run_suite(rig.sandbox.env_file, "--phase", "all", tmp=tmp_path).exit_code == 0
    skeletons = rig.paths.root / "var/lib/wcs/skeletons"
    other = skeletons.with_name("skeletons-other")
    other.mkdir(mode=0o750, exist_ok=True)
    shutil.chown(other, "wcs", "wcs")
    buffer = io.BytesIO()
    with zipfile.ZipFile(skeletons / "modele.zip") as source, zipfile.ZipFile(buffer, "w") as copy:
        for name in source.namelist():
            data = source.read(name)
            if name == "site-options.cfg":
                assert b"disable-jsonp-sources = true" in data
                data = data.replace(b"disable-jsonp-sources = true", b"disable-jsonp-sources = false")
            copy.writestr(name, data)
    (other / "modele.zip").write_bytes(buffer.getvalue())
    mirror = {"environment": str(rig.sandbox.env_file)}
    drifted = variant(rig.sandbox.env_file, tmp_path, mirror_of=mirror,
                      wcs={"skeletons_dir": "/var/lib/wcs/skeletons-other"})
    run = run_suite(drifted, "--phase", "postdeploy", "-k", "test_parity", tmp=tmp_path)
    assert set(run.failed) == {"test_parity[moncompte]"}, run.describe()
    message = run.failed["test_parity[moncompte]"]
    assert "the skeleton site options of " in message and "skeletons-other/modele.zip" in message, message
    assert "[options] disable-jsonp-sources: 'true' on " in message and "'false' here" in message, message
    assert "missing here" not in message and "theme" not in message.split("evidence:")[0], message


def test_postdeploy_polls_are_batched_per_server(rig: Rig) -> None:
    """One SSH connection per server for the whole wait, and a bounded number of commands per round."""
    from publik_acceptance.evidence.preflight import PreflightEvidence
    from publik_acceptance.evidence.prober import Prober
    from publik_acceptance.evidence.probes.remote import SshPool
    from publik_acceptance.judge.postdeploy import PostdeployEvidence
    from publik_acceptance.plan import load_plan

    rig.up("deploy-late")  # fargo arrives late: several poll rounds
    status, _out, err = rig.cook()
    assert status == 0, err
    plan = load_plan(rig.sandbox.env_file)
    pool, prober = SshPool(plan.environment), Prober(plan.environment)
    try:
        preflight = PreflightEvidence(plan, pool, prober)
        outcome = PostdeployEvidence(plan, pool, prober, preflight).outcome()
    finally:
        prober.close()
        pool.close()
    assert not outcome.timed_out
    assert len(outcome.rounds) >= 2, outcome.rounds
    assert dict(pool.stats.connections) == {"root@127.0.0.15:22": 1}
    for round_ in outcome.rounds:
        assert all(count <= 3 for count in round_.remote_commands.values()), round_
    late = [i for i in outcome.items.values() if i.target.kind == "fargo"]
    assert all(i.ready_at is not None and i.polls >= 2 for i in late)



def test_a_concurrent_cook_is_refused_by_the_lock(rig: Rig, tmp_path: Path) -> None:
    rig.up("cook-hangs")
    env = variant(rig.sandbox.env_file, tmp_path, cook={"timeout": 3, "kill_margin": 3})
    lock = lock_path(rig)
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = start_suite(env, "--phase", "all", tmp=tmp_path / "first")
    try:
        assert wait_for(lambda: len(rig.sandbox.cook_invocations()) == 1, 30), "the first cook did not start"
        assert lock.exists()
        second = run_suite(env, "--phase", "all", tmp=tmp_path / "second")
    finally:
        first_run = finish_suite(first, tmp_path / "first")
    assert set(second.failed) == {"test_cook"}, second.describe()
    assert "another cook holds the lock" in second.failed["test_cook"]
    assert set(first_run.failed) == {"test_cook"}, first_run.describe()
    assert "timed out after 6 s" in first_run.failed["test_cook"]
    assert len(rig.sandbox.cook_invocations()) == 1, "the refused run cooked anyway"
    assert not lock.exists(), "the lock outlived the run that took it"


def test_ssh_drop_during_the_cook_is_reported_and_releases_the_lock(rig: Rig, tmp_path: Path) -> None:
    rig.up("cook-hangs")
    env = variant(rig.sandbox.env_file, tmp_path, cook={"timeout": 20, "kill_margin": 10})
    lock = lock_path(rig)
    run = start_suite(env, "--phase", "all", tmp=tmp_path)
    try:
        assert wait_for(lambda: len(rig.sandbox.cook_invocations()) == 1, 30), "the cook did not start"
        # sshd's per-connection processes ("sshd: root [priv]", "sshd: root@notty"), not the listener.
        subprocess.run(["pkill", "-f", "^sshd: root"], check=False)
    finally:
        result = finish_suite(run, tmp_path, timeout=60)
    assert set(result.failed) == {"test_cook"}, result.describe()
    message = result.failed["test_cook"]
    assert "connection dropped" in message and "cook log" in message, message
    assert not lock.exists(), "the lock was not released after the connection dropped"
    assert leftovers(rig) == [], "the recipe was left on the server"


def test_a_waived_check_does_not_close_the_gate(rig: Rig, tmp_path: Path) -> None:
    rig.up("tls-expiring-soon")  # hobo's certificate has 10 days left
    hobo = target_id(rig, "hobo")
    waiver = {"waive": [{"test": f"test_tls[{hobo}|*]", "reason": "renewal scheduled tonight, CHG-7"}]}
    env = variant(rig.sandbox.env_file, tmp_path, gate=waiver)
    run = run_suite(env, "--phase", "all", tmp=tmp_path)
    assert set(run.failed) == frontends(rig, "hobo", "test_tls"), run.describe()  # still reported
    assert "test_cook" in run.passed
    assert len(rig.sandbox.cook_invocations()) == 1
    summary = json.loads(next((tmp_path / "reports").glob("*.json")).read_text())
    assert summary["gate"] == "open"
    assert {w["reason"] for w in summary["gate_waived"]} == {"renewal scheduled tonight, CHG-7"}
