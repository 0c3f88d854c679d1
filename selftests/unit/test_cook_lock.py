"""The cook lock's holder record, read back from the hobo server: bounded, cleaned, judged."""

from __future__ import annotations

from publik_acceptance.deploy.cook import VALUE_LIMIT, clean, parse_holder


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
