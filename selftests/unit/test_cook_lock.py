"""The cook lock's holder record, read back from the hobo server: bounded, cleaned, judged."""

from __future__ import annotations

import shlex

import pytest

from publik_acceptance.deploy.lock import CookLock, parse_holder
from publik_acceptance.deploy.result import CookRefused
from publik_acceptance.deploy.shell import VALUE_LIMIT, clean
from publik_acceptance.evidence.probes.remote import RemoteResult


def _answer(record: str, state: str = "STALE session") -> str:
    return f"NOW 1700007200\nHELD\n{record}\nEND-HOLDER\nSTATE {state}\n"


def test_a_stale_holder_is_described_with_operator_ticket_and_age() -> None:
    holder = parse_holder(_answer("platform=prod\nticket=CHG-9\noperator=ops@laptop\nstarted=2023-11-14T22:13:20Z\n"
                                  "token=feedface\nstarted_epoch=1700000000\nsession_pid=4242\nsession_start=99"))
    assert holder.stale
    text = holder.describe()
    assert "ops@laptop" in text and "CHG-9" in text and "2.0 h ago" in text
    assert "pid 4242" in holder.liveness() and "gone" in holder.liveness()


def test_control_characters_and_long_values_never_reach_the_report() -> None:
    holder = parse_holder(_answer("operator=evil\x1b[31m\x07\u202etxt.exe\nticket=" + "x" * 5000, "ALIVE session"))
    assert not holder.stale
    assert "\x1b" not in holder.describe() and "\x07" not in holder.describe() and "\u202e" not in holder.describe()
    assert len(holder.values["ticket"]) <= VALUE_LIMIT + 1


def test_the_first_value_of_a_key_wins_and_odd_keys_are_ignored() -> None:
    holder = parse_holder(_answer("ticket=CHG-1\nticket=CHG-2\nNOT A KEY=1\n<script>=x"))
    assert holder.values == {"ticket": "CHG-1"}


def test_clean_keeps_printable_text() -> None:
    assert clean("ops@host ticket CHG-1 é") == "ops@host ticket CHG-1 é"
    assert clean("a\nb\tc") == "a?b?c"


def _lock(answer: str, status: int = 3, break_lock: bool = False) -> tuple[CookLock, list[str]]:
    sent: list[str] = []

    def remote(command: str) -> RemoteResult:
        sent.append(command)
        return RemoteResult(command, status, answer, "", 0.0)

    return CookLock("/run/publik-acceptance/cook.lock", "sudo -n ", remote, break_lock), sent


def test_the_lock_script_is_the_same_text_whatever_the_record_and_its_values_are_arguments() -> None:
    lock, sent = _lock("NOW 1\nTAKEN\n", status=0)
    record = "operator=$(touch /tmp/x)\nticket=`id`"
    assert lock.take("feedface", record) is None
    words = shlex.split(sent[0])
    assert words[:3] == ["sudo", "-n", "sh"] and words[3] == "-c"
    assert "$(touch" not in words[4] and "feedface" not in words[4]
    assert words[5:] == ["sh", "/run/publik-acceptance/cook.lock", "feedface", record, "0"]


def test_a_stale_lock_is_refused_with_its_holder_and_the_way_out() -> None:
    lock, _ = _lock(_answer("operator=ops@laptop\nticket=CHG-9\nsession_pid=4242"))
    with pytest.raises(CookRefused, match=r"is stale: held by ops@laptop for ticket CHG-9.*rerun with --break-lock"):
        lock.take("feedface", "")


def test_break_lock_never_breaks_a_live_lock() -> None:
    lock, sent = _lock(_answer("operator=ops@laptop", "ALIVE cook"), break_lock=True)
    with pytest.raises(CookRefused, match=r"another cook holds .* still running .*\(--break-lock breaks only a stale"):
        lock.take("feedface", "")
    assert shlex.split(sent[0])[-1] == "1"


def test_a_broken_stale_lock_names_its_former_holder() -> None:
    lock, _ = _lock(_answer("operator=ops@laptop") + "BROKEN\n", status=0, break_lock=True)
    holder = lock.take("feedface", "")
    assert holder is not None and holder.values["operator"] == "ops@laptop"


def test_an_unsafe_lock_directory_is_refused_saying_what_is_wrong() -> None:
    lock, _ = _lock("UNSAFE /run is writable by other users (mode 777)\n", status=5)
    with pytest.raises(CookRefused, match=r"cannot be trusted: /run is writable by other users.*cook\.lock_file"):
        lock.take("feedface", "")
