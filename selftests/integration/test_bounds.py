"""Bounded against hostile or broken servers, through the sandbox: SSH output and the run's deadline.

A command printing 64 MiB through the sandbox's sshd leaves at most 8 MiB per stream in memory and
its exit status intact; a run whose deadline passes fails every remaining check at once, saying so,
and never starts the cook.
"""

from __future__ import annotations

from pathlib import Path

from publik_acceptance.evidence.probes.remote import MAX_KEPT, MAX_LINE, SshPool
from publik_acceptance.plan import load_plan
from selftests.rig import Rig

from .suite_runner import run_suite, variant

BIG = 64 * 1024 * 1024


def test_ssh_output_is_capped_and_the_exit_status_kept(rig: Rig) -> None:
    rig.up()
    pool = SshPool(load_plan(rig.sandbox.env_file).environment)
    try:
        result = pool.run("hobo", f"head -c {BIG} /dev/zero | tr '\\000' x; echo done >&2; exit 3", timeout=120)
        lines: list[tuple[str, str]] = []
        streamed = pool.run("hobo", f"head -c {BIG // 2} /dev/zero | tr '\\000' y; echo; echo after",
                            timeout=120, on_line=lambda stream, line: lines.append((stream, line)))
    finally:
        pool.close()
    # Before: all 64 MiB were kept (393 MB on a real server filled the memory).
    assert result.exit_status == 3
    assert len(result.stdout) <= MAX_KEPT + 200, f"kept {len(result.stdout)} characters of stdout"
    assert result.stdout.startswith("x" * 1000)
    assert result.stdout.endswith(f"[publik-acceptance: stdout cut: kept the first 8 MiB of {BIG} bytes]\n")
    assert result.stderr == "done\n"
    # The live log (the cook's) gets every line, each cut at MAX_LINE.
    assert streamed.exit_status == 0
    assert lines == [("stdout", "y" * MAX_LINE + " [line cut at 64 KiB]"), ("stdout", "after")]


def test_after_the_run_deadline_every_check_fails_at_once_and_the_cook_never_starts(rig: Rig,
                                                                                   tmp_path: Path) -> None:
    """run.deadline of 1 s; the hanging frontend makes the HTTP round last http.timeout (5 s)."""
    rig.up("http-hang")
    env_file = variant(rig.sandbox.env_file, tmp_path, run={"deadline": 1})
    run = run_suite(env_file, "--phase", "deploy", tmp=tmp_path)
    late = {name: text for name, text in run.failed.items()
            if "run deadline of 1 s passed (run.deadline in variant.yml)" in text}
    assert "test_cook" in late, run.describe() + run.output[-3000:]
    assert "the cook not started" in late["test_cook"] or "this check not started" in late["test_cook"]
    other = {name: text for name, text in run.failed.items() if name not in late}
    assert all("no HTTP response" in text for text in other.values()), other  # only the hanging frontend
    assert rig.sandbox.cook_invocations() == []
