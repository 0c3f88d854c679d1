"""Title and password-field lookups on a page a server controls: right answers, linear cost.

Linear by construction (str.find only, each scan resumes where the last stopped, see evidence/probes/http.py).
What is checked here is behaviour: the right answers on ordinary pages, and on hostile pages as long
as the probe keeps (MAX_BODY) an answer at all. The old regular expressions needed about a minute on
such a page; a 10 s alarm turns a hang into a failure (it is a hang detector, not a speed test).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from publik_acceptance.evidence.probes.http import MAX_BODY, HttpExchange


@contextmanager
def hang_detector(seconds: int = 10) -> Iterator[None]:
    def hung(signum: int, frame: object) -> None:
        raise TimeoutError(f"still scanning after {seconds} s: not linear")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def page(body: str) -> HttpExchange:
    return HttpExchange("https://x.test/", "127.0.0.1", status=200, body=body)


def hostile(unit: str, tail: str = "") -> str:
    """`unit` repeated to fill what the probe keeps of a body, then `tail`."""
    return unit * ((MAX_BODY - len(tail)) // len(unit)) + tail


@pytest.mark.parametrize("body, title", [
    ("<html><head><title>Connexion | Publik</title></head>", "Connexion | Publik"),
    ("<TITLE lang='fr'>\n  Portail\n  citoyen </TITLE>", "Portail citoyen"),
    ("<title>A &amp; B</title>", "A & B"),
    ("<titlebar>no</titlebar><title>Yes</title>", "Yes"),
    ("<p>no title</p>", None),
    ("<title>never closed", None),
    ("<title", None),
    ("İ<title>after a character that grows when lowered</title>", "after a character that grows when lowered"),
])
def test_title(body: str, title: str | None) -> None:
    assert page(body).title == title


@pytest.mark.parametrize("body, found", [
    ('<form><input type="password" name="password"></form>', True),
    ("<INPUT name=p TYPE = 'Password'/>", True),
    ("<input\ntype=password\n>", True),
    ("<input id=x type=password>", True),
    ('<input type="text"><p>type=password</p>', False),
    ("<input data-type=password>", False),
    ("<input type=passwords>", False),
    ("<inputs type=password>", False),
    ("<p>password</p>", False),
])
def test_password_field(body: str, found: bool) -> None:
    assert page(body).has_password_form is found


HOSTILE: list[tuple[str, str, Callable[[HttpExchange], object], object]] = [
    # the old title expression restarted at every "<title" and ran to the end of the page each time
    ("many unclosed titles", hostile("<title>"), lambda p: p.title, None),
    ("many unclosed titles, then one closed", hostile("<title>", "</title>"), lambda p: p.title is not None, True),
    ("title tags without >", hostile("<title "), lambda p: p.title, None),
    # the old password expression did the same with every "<input"
    ("inputs without >", hostile("<input "), lambda p: p.has_password_form, False),
    ("inputs without >, a password field last", hostile("<input ", "<input type=password>"),
     lambda p: p.has_password_form, True),
    ("one input full of type=", "<input " + hostile("type= ")[7:],
     lambda p: p.has_password_form, False),
    ("a huge title, kept short", "<title>" + hostile("x", "</title>")[7:], lambda p: 0 < len(p.title or "") <= 4096,
     True),
]


@pytest.mark.parametrize("body, look, expected", [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_pages(body: str, look: Callable[[HttpExchange], object], expected: object) -> None:
    assert len(body) <= MAX_BODY
    with hang_detector():
        assert look(page(body)) == expected
