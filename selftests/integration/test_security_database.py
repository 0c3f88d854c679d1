"""A hostile skeleton on the w.c.s. server cannot make the suite run anything as the PostgreSQL superuser.

`modele.zip` is a file the `wcs` user owns. Its createdb-connection-params are planted with psql
payloads (a newline ending the `\\c` meta-command, then SQL and a `\\!` shell escape; quotes and
`$(…)`) and the real preflight runs against the sandbox: no role is created, no file is touched,
and the createdb check fails naming the skeleton, the server and the key, or the login just fails.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from publik_acceptance.report import compact
from publik_sandbox import postgres as sandbox_postgres
from selftests.rig import Rig

from .suite_runner import run_suite

MARKER = Path(f"/tmp/publik-selftest-pwned-{os.getpid()}")
ROLE = "pa_pwned"


def plant_skeleton(rig: Rig, **createdb: str) -> list[Path]:
    """Every skeleton in the sandbox's skeletons directory, its createdb-connection-params changed."""
    planted = []
    for path in sorted(rig.paths.skeletons.iterdir()):
        with zipfile.ZipFile(path) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
        config = json.loads(members["config.json"])
        config["postgresql"]["createdb-connection-params"].update(createdb)
        members["config.json"] = json.dumps(config).encode()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
        path.write_bytes(buffer.getvalue())
        shutil.chown(path, "wcs", "wcs")
        path.chmod(0o640)
        planted.append(path)
    assert planted, "the sandbox has no skeleton to plant"
    return planted


def role_exists(rig: Rig, name: str) -> bool:
    net = rig.sandbox.config.network
    with sandbox_postgres.connect(rig.paths.pg_socket_dir, net.postgres_port) as conn:
        return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is not None


@pytest.fixture
def clean() -> Iterator[None]:
    """No marker file before or after the test: its presence proves an injected shell command ran."""
    MARKER.unlink(missing_ok=True)
    yield
    MARKER.unlink(missing_ok=True)


INJECTIONS = {
    # Ends the old `\c "user='…` line: the next lines ran as SQL with superuser rights, and the
    # COPY … TO PROGRAM as a shell command of the postgres user (the `\!` was defused by escaping).
    "newline": (f"wcs\nCREATE ROLE {ROLE} SUPERUSER;\nCOPY (SELECT 1) TO PROGRAM $$touch {MARKER}$$;\n"
                f"\\! touch {MARKER}\n"),
    "carriage-return": f"wcs\rCREATE ROLE {ROLE} SUPERUSER;\r",
}
PRINTABLE = {
    "quotes": f"wcs' || (SELECT 1)); CREATE ROLE {ROLE} SUPERUSER; --",
    "dollar": f"wcs$(touch {MARKER})",
    "backquote": f"wcs`touch {MARKER}`\\\"';",
}


@pytest.mark.parametrize("name", sorted(INJECTIONS))
def test_control_characters_in_the_createdb_user_are_refused(rig: Rig, tmp_path: Path, clean: None,
                                                               name: str) -> None:
    rig.up()
    planted = plant_skeleton(rig, user=INJECTIONS[name])
    run = run_suite(rig.sandbox.env_file, "--phase", "preflight", tmp=tmp_path)
    assert not role_exists(rig, ROLE), "the skeleton's user name ran as SQL with superuser rights"
    assert not MARKER.exists(), "the skeleton's user name ran a shell command as postgres"
    assert "test_createdb_role" in run.failed, run.describe() + run.output[-3000:]
    text = run.failed["test_createdb_role"]
    for word in ("createdb-connection-params.user", "control characters", str(planted[0]), "127.0.0.15",
                 "nothing was run", "inv render"):
        assert word in text, f"the failure does not say {word!r}:\n{text}"
    assert f"CREATE ROLE {ROLE} SUPERUSER;\n" not in run.output
    assert run.exit_code == 1


@pytest.mark.parametrize("name", sorted(PRINTABLE))
def test_quotes_in_the_createdb_user_only_fail_the_login(rig: Rig, tmp_path: Path, clean: None, name: str) -> None:
    """Printable values are allowed, and go to psql as values: the login fails, nothing else happens."""
    rig.up()
    plant_skeleton(rig, user=PRINTABLE[name])
    run = run_suite(rig.sandbox.env_file, "--phase", "preflight", tmp=tmp_path)
    assert not role_exists(rig, ROLE)
    assert not MARKER.exists()
    text = run.failed.get("test_createdb_role", "")
    assert "the skeleton's credentials log in" in text, run.describe() + run.output[-3000:]
    assert "psql as wcs on root@127.0.0.15" in text
    assert "password authentication failed" in text
    assert rig.wcs_password() not in run.output


def test_a_host_that_is_not_a_host_is_refused(rig: Rig, tmp_path: Path, clean: None) -> None:
    rig.up()
    plant_skeleton(rig, host=f"127.0.0.14 sslmode=disable user=postgres' \\! touch {MARKER}")
    run = run_suite(rig.sandbox.env_file, "--phase", "preflight", tmp=tmp_path)
    assert not MARKER.exists()
    text = run.failed.get("test_createdb_role", "")
    assert "createdb-connection-params.host" in text and "not a host name" in text, run.describe()


def test_the_healthy_login_is_tried_as_wcs_on_the_wcs_server(rig: Rig, tmp_path: Path) -> None:
    """The login is proved from where w.c.s. uses it, so pg_hba for that host is what is tested."""
    rig.up()
    run = run_suite(rig.sandbox.env_file, "--phase", "preflight", "-k", "test_createdb_role", tmp=tmp_path)
    assert run.passed == {"test_createdb_role"}, run.describe() + run.output[-3000:]
    assert rig.wcs_password() not in run.output
    (report,) = (tmp_path / "reports").glob("*.html")  # the check's evidence
    assert "psql as wcs on root@127.0.0.15:22 (role wcs)" in compact.readable(report.read_text()), \
        "not tried from the w.c.s. server"
