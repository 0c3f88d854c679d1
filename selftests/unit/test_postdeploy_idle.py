"""How many idle connections a postdeploy round keeps: enough for the federation's fetches to reuse the
pages' connections, never enough to run the process out of file descriptors."""

from __future__ import annotations

import resource

from publik_acceptance.judge.postdeploy import idle_budget


def test_a_round_keeps_one_idle_connection_per_item_it_polls() -> None:
    assert idle_budget(2600, 32, open_files=20000) == 2600  # N = 50 with federation: 128 before


def test_the_open_file_limit_bounds_it() -> None:
    assert idle_budget(2600, 32, open_files=1024) == 256  # a quarter of a common default limit
    assert idle_budget(10_000, 512, open_files=1024) == 256  # even with a large concurrency


def test_a_small_round_still_keeps_a_few_per_probe_in_flight() -> None:
    assert idle_budget(10, 32, open_files=20000) == 128
    assert idle_budget(0, 1, open_files=20000) == 16


def test_no_limit_means_the_round_decides() -> None:
    assert idle_budget(5000, 32, open_files=resource.RLIM_INFINITY) == 5000
