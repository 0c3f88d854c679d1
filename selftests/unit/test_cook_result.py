"""Cook's exit status is not the verdict: how a cook's end is classified, and what the run's verdict says."""

from __future__ import annotations

from publik_acceptance.deploy.result import FAILED, RAN, TIMED_OUT_WAITING, CookResult, classify, combine
from publik_acceptance.report.verdict import RunVerdict

WAITED = ["Cooking /tmp/r.json (9 steps)", "CommandError: timeout waiting for https://demarches.example.test/"]
ALL = ("preflight", "deploy", "postdeploy")


def _end(status: int, output: list[str] | None = None) -> tuple[str, str]:
    ending = classify("moncompte", status, output or [], 12.3, 600, 900)
    return ending.status, ending.message


def test_a_cook_that_gave_up_waiting_is_not_a_failure() -> None:
    status, message = _end(1, WAITED)
    assert status == TIMED_OUT_WAITING
    assert "timed out waiting after 12.3 s" in message and "https://demarches.example.test/" in message
    assert "postdeploy decides" in message
    # Other wordings of the same thing, whatever the case.
    assert _end(1, ["ERROR: Timed out while waiting for https://x/"])[0] == TIMED_OUT_WAITING


def test_exit_0_ran_and_other_errors_failed() -> None:
    assert _end(0, WAITED[:1])[0] == RAN  # exit 0: postdeploy decides whether a service failed
    status, message = _end(1, ["CommandError: error while deploying services: connection refused"])
    assert (status, message) == (FAILED, "cook of moncompte exited 1 after 12.3 s")


def test_our_hard_limit_stays_a_failure_even_if_cook_said_it_was_waiting() -> None:
    for killed in (124, 137):
        status, message = _end(killed, WAITED)
        assert status == FAILED and "timed out after 900 s: the suite stopped it" in message


def test_a_long_line_is_cut_in_the_message() -> None:
    _, message = _end(1, ["timeout waiting for https://" + "x" * 500])
    assert "…" in message and len(message) < 400


def test_over_several_instances_a_failure_wins_then_a_wait_given_up() -> None:
    assert combine(RAN, RAN) == RAN
    assert combine(RAN, TIMED_OUT_WAITING) == TIMED_OUT_WAITING
    assert combine(TIMED_OUT_WAITING, RAN) == TIMED_OUT_WAITING
    assert combine(TIMED_OUT_WAITING, FAILED) == FAILED
    assert CookResult(TIMED_OUT_WAITING).cooked and CookResult(RAN).cooked
    assert not CookResult(FAILED).cooked and not CookResult("interrupted").cooked


def _verdict(cook: str, postdeploy: str, failed: int = 0) -> RunVerdict:
    return RunVerdict(gate="open", gate_detail="", blocking=(), waived=(), cook=cook, cook_exit=1,
                      cook_duration=1.0, cook_message="", postdeploy=postdeploy,
                      counts={"passed": 3, "failed": failed})


def test_the_verdict_says_postdeploy_decided_after_a_wait_given_up() -> None:
    assert _verdict(TIMED_OUT_WAITING, "passed").headline(ALL) == (
        "good", "Deployed and verified: cook timed out waiting; postdeploy passed")
    assert _verdict(TIMED_OUT_WAITING, "failed", 1).headline(ALL) == (
        "bad", "Deployed, but the postdeploy checks failed: cook timed out waiting; postdeploy failed")
    assert _verdict(RAN, "passed").headline(ALL) == ("good", "Deployed and verified")
    assert _verdict(FAILED, "not run", 1).headline(ALL) == ("bad", "Cook failed")
    tone, line = _verdict(TIMED_OUT_WAITING, "not run").headline(("preflight", "deploy"))
    assert tone == "warn" and "run the postdeploy phase" in line
