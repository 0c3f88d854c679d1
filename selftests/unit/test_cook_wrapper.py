"""The cook's remote wrapper, run here by a real `sh`: it passes on the cook's status, stops the cook when
the suite goes away (its stdin closes) or the time limit passes, and always removes the recipe directory."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from publik_acceptance.config.environment import Environment, load_environment
from publik_acceptance.deploy.shell import Remote
from publik_acceptance.deploy.wrapper import MARKER, await_end, run_wrapped
from publik_acceptance.evidence.probes.privilege import Privilege
from publik_acceptance.evidence.probes.remote import RemoteResult

TOKEN = f"unit{os.getpid()}"
ME = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()


def _environment(limit: float) -> Environment:
    """preprod, its hobo login and cook user this host's own user: the wrapper runs without sudo; the
    wrapper's hard limit (cook.timeout + cook.kill_margin) `limit` seconds."""
    env = load_environment("preprod")
    hobo = dataclasses.replace(env.servers["hobo"], user=ME)
    return dataclasses.replace(env, servers={**env.servers, "hobo": hobo},
                               cook=dataclasses.replace(env.cook, user=ME, timeout=limit / 2, kill_margin=limit / 2))


def _local(gone_after: float | None = None) -> Remote:
    """Commands run here; their stdin stays open (as the SSH channel does) until `gone_after` s, or their end."""

    def remote(command: str, stdin: bytes | None = None, timeout: float | None = None,
               on_line: Callable[[str, str], None] | None = None, hold_stdin: bool = False) -> RemoteResult:
        read_end, write_end = os.pipe()
        started = time.monotonic()
        proc = subprocess.Popen(["sh", "-c", command], stdin=read_end, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.close(read_end)
        suite_goes = threading.Timer(gone_after or 0, os.close, [write_end])
        if gone_after is not None:
            suite_goes.start()
        try:
            out, err = proc.communicate(timeout=timeout)
        finally:
            if gone_after is None:
                os.close(write_end)
            else:
                suite_goes.join()
        return RemoteResult(command, proc.returncode, out.decode(), err.decode(), time.monotonic() - started)

    return remote


def _recipe_dir(tmp_path: Path) -> Path:
    directory = tmp_path / f"{MARKER}{TOKEN}-unit.0123456789"
    directory.mkdir()
    (directory / "recipe.json").write_text("{}")
    return directory


def test_the_cook_status_and_output_pass_through_and_the_recipe_goes(tmp_path: Path) -> None:
    directory = _recipe_dir(tmp_path)
    lines: list[str] = []
    run = run_wrapped(_local(), _environment(30), Privilege(ME), TOKEN, str(directory), "echo cooking; exit 3",
                      lambda stream, line: lines.append(line))
    assert run.exit_status == 3 and "cooking" in run.stdout
    assert "publik-acceptance: recipe removed" in run.stderr and not directory.exists()


def test_the_cook_stops_when_the_suite_goes_away(tmp_path: Path) -> None:
    directory = _recipe_dir(tmp_path)
    started = time.monotonic()
    run = run_wrapped(_local(gone_after=1.0), _environment(60), Privilege(ME), TOKEN, str(directory), "sleep 60",
                      lambda stream, line: None)
    assert time.monotonic() - started < 15, "the cook outlived the suite's channel"
    assert "the suite went away: stopping the cook" in run.stderr and not directory.exists()
    assert await_end(_local(), TOKEN, ""), "a process of the cook is left"


def test_the_time_limit_stops_the_cook(tmp_path: Path) -> None:
    directory = _recipe_dir(tmp_path)
    run = run_wrapped(_local(), _environment(1), Privilege(ME), TOKEN, str(directory), "sleep 60",
                      lambda stream, line: None)
    assert run.exit_status == 124 and not directory.exists()
