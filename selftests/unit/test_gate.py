"""Waiver patterns: test ids are full of brackets, which must match literally."""

from __future__ import annotations

import pytest

from publik_acceptance.gate import matches


@pytest.mark.parametrize(
    ("pattern", "test_id", "expected"),
    [
        ("test_tls[hobo|hobo.example.test|*]", "test_tls[hobo|hobo.example.test|192.0.2.10]", True),
        ("test_tls[hobo|*]", "test_tls[combo|portail.example.test|192.0.2.10]", False),
        ("test_tls[*]", "test_tls[combo|portail.example.test|192.0.2.10]", True),
        ("test_createdb_role", "test_createdb_role", True),
        ("test_createdb_role", "test_createdb_role_extra", False),
        ("test_http_404[?ombo|*]", "test_http_404[combo|x|y]", True),
    ],
)
def test_waiver_patterns(pattern: str, test_id: str, expected: bool) -> None:
    assert matches(pattern, test_id) is expected
