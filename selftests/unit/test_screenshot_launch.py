"""Chromium keeps its own sandbox and gets a minimal environment: no PUBLIK_* secret reaches it.

Chromium is not needed: the browser is replaced by a small script that records what it was given
(user, environment, arguments) in the "screenshot" it writes. Everything else is the real path a
shot takes (`_shoot`): the launcher, the temporary directory, the environment, setpriv as root.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from publik_acceptance.plan import load_plan
from publik_acceptance.report import screenshots

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
SECRET = "publik-secret-value-5e3a9c"

RECORDER = """#!/bin/sh
out=""
for arg in "$@"; do
    case "$arg" in --screenshot=*) out="${arg#--screenshot=}" ;; esac
done
{ echo "uid=$(id -u)"; echo "--- env"; env; echo "--- args"; printf '%s\\n' "$@"; } > "$out"
"""


@pytest.fixture
def recorder() -> Iterator[Path]:
    """The stand-in browser, where `nobody` can run it (pytest's tmp_path is private to root)."""
    directory = Path(tempfile.mkdtemp(prefix="publik-fake-chromium-"))
    directory.chmod(0o755)
    script = directory / "chromium"
    script.write_text(RECORDER)
    script.chmod(0o755)
    yield script
    shutil.rmtree(directory)


def record(text: bytes) -> tuple[str, dict[str, str], list[str]]:
    head, rest = text.decode().split("--- env\n", 1)
    env_text, args_text = rest.split("--- args\n", 1)
    env = dict(line.split("=", 1) for line in env_text.splitlines() if "=" in line)
    return head.strip(), env, args_text.splitlines()


def shoot(binary: Path) -> screenshots.Shot:
    target = next(t for t in load_plan(CORPUS / "valid" / "environment.yml").targets if t.kind == "combo")
    launch = screenshots.launcher()
    assert isinstance(launch, screenshots.Launch), launch
    rules = screenshots.resolver_rules({target.hostname: "127.0.0.1"})
    return screenshots._shoot(str(binary), target, "127.0.0.1", 443, rules, [], launch)


def test_chromium_runs_sandboxed_with_a_minimal_environment(recorder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIK_SUPERUSER_PASSWORD", SECRET)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    shot = shoot(recorder)
    assert shot.png is not None, shot.error
    uid, env, args = record(shot.png)
    # Before: --no-sandbox, and the operator's whole environment (PUBLIK_* secrets included).
    assert "--no-sandbox" not in args
    assert "--headless" in args and any(a.startswith("--host-resolver-rules=") for a in args)
    assert not [name for name in env if name.startswith("PUBLIK_")], env
    assert SECRET not in shot.png.decode()
    assert set(env) - {"PWD", "SHLVL", "_", "OLDPWD"} == {"PATH", "HOME", "LANG"}, env
    assert env["PATH"] == screenshots.SAFE_PATH and env["LANG"] == "C.UTF-8"
    assert env["HOME"].startswith(tempfile.gettempdir() + "/publik-acceptance-chromium-")
    if os.geteuid() == 0:  # Chromium's sandbox refuses root: it runs as nobody instead
        assert uid == f"uid={screenshots.pwd.getpwnam('nobody').pw_uid}"
    else:
        assert uid == f"uid={os.geteuid()}"


def test_as_root_without_a_way_to_drop_privileges_there_are_no_screenshots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(screenshots.os, "geteuid", lambda: 0)
    monkeypatch.setattr(screenshots, "SAFE_PATH", "/nonexistent")  # no setpriv to be found
    refusal = screenshots.launcher()
    assert isinstance(refusal, str)
    assert "sandbox" in refusal and "setpriv" in refusal and "no screenshots" in refusal


def test_the_command_keeps_the_sandbox() -> None:
    args = screenshots.command("chromium", "https://x.test/", Path("/tmp/o.png"), Path("/tmp/p"), "MAP * ~NOTFOUND",
                               ["pin"])
    assert "--no-sandbox" not in args
    assert not any("sandbox" in a for a in args)
