"""The batched remote script, run by a local `sh`: many stat questions in few processes, same answers."""

from __future__ import annotations

import subprocess
from pathlib import Path

from publik_acceptance.evidence.probes import facts
from publik_acceptance.evidence.probes.facts import Batch, path_facts


def ask_locally(batch: Batch) -> dict[str, tuple[int, str]]:
    output = subprocess.run(["sh", "-s"], input=batch.script().encode(), capture_output=True, timeout=60, check=False)
    return batch.parse(output.stdout.decode())


def test_grouped_stat_answers_each_path_like_a_stat_of_its_own(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(facts, "STAT_GROUP", 3)  # several groups, and a partial last one
    odd = [tmp_path / "a b", tmp_path / "pipe|name", tmp_path / "it's", tmp_path / "new\nline"]
    for path in odd:
        path.mkdir()
    (tmp_path / "file").write_text("x")
    missing = [tmp_path / "absent", tmp_path / "absent|too", tmp_path / "nope's"]
    batch = Batch(sudo=False)
    for path in [*odd, tmp_path / "file", *missing]:
        batch.stat(str(path))
    batch.command("echo hello")
    answers = ask_locally(batch)
    for path in odd:
        found = path_facts(str(path), answers.get(f"stat:{path}"))
        assert found.exists and found.kind == "directory", (path, found)
    assert path_facts(str(tmp_path / "file"), answers[f"stat:{tmp_path / 'file'}"]).size == 1
    for path in missing:
        found = path_facts(str(path), answers.get(f"stat:{path}"))
        assert not found.exists and "No such file" in (found.error or ""), (path, found)
        assert str(path.name) in (found.error or "")  # its own error line, not a neighbour's
    assert answers["command:echo hello"] == (0, "hello")
    assert batch.script().count("stat -c") == 3 + 1  # 7 paths in groups of 3, the newline one alone


def test_a_failure_of_the_whole_group_is_every_path_s_answer() -> None:
    batch = Batch(sudo=True)
    batch.stat("/srv/one")
    batch.stat("/srv/two")
    output = "@@publik-acceptance@@ g0\nsudo: a password is required\n@@publik-acceptance@@ rc 1\n"
    answers = batch.parse(output)
    assert answers == {"stat:/srv/one": (1, "sudo: a password is required"),
                       "stat:/srv/two": (1, "sudo: a password is required")}
