"""Redaction covers encodings: a secret is masked on the console and found by the file scan in every
spelling it takes on the way out (JSON as written into the recipe, Python and bytes reprs, URL
encoding, base64), and a secret too short to be masked is refused where it is resolved."""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, quote_plus, urlencode

import pytest

from publik_acceptance.config.errors import ConfigError
from publik_acceptance.config.secrets import MASK, MIN_SECRET_LENGTH, REGISTRY, SecretRef, redact
from publik_acceptance.report import redaction

# Non-ASCII, both quotes and a backslash: every encoder spells it differently.
SECRET = "Pàss-wörd-\"dq\"-'sq'-back\\slash-€"


def _base64_inside(secret: str) -> str:
    """The secret inside a longer base64 text, not aligned on a 3-byte group."""
    return base64.b64encode(b"x" + secret.encode() + b"yz").decode()


ENCODINGS: dict[str, Callable[[str], str]] = {
    "raw": lambda s: s,
    "json": lambda s: json.dumps(s, ensure_ascii=False),
    "json-ascii (recipe)": lambda s: json.dumps({"password": s}),
    "json-in-json": lambda s: json.dumps(json.dumps({"password": s})),
    "repr": repr,
    "repr-in-tuple": lambda s: repr(("it's", s)),
    "ascii": ascii,
    "exception": lambda s: repr(ValueError(s)),
    "bytes-repr": lambda s: repr(s.encode()),
    "bytes-repr-in-dict": lambda s: str({"password": s.encode()}),
    "url-quote": lambda s: quote(s, safe=""),
    "url-quote-path": quote,
    "url-quote-plus": quote_plus,
    "urlencode": lambda s: "https://h.example.test/login?" + urlencode({"user": "admin", "password": s}),
    "url-lower-hex": lambda s: re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote(s, safe="")),
    "base64": lambda s: base64.b64encode(s.encode()).decode(),
    "base64-urlsafe": lambda s: base64.urlsafe_b64encode(s.encode()).decode(),
    "base64-inside": _base64_inside,
    "basic-auth": lambda s: "Authorization: Basic " + base64.b64encode(b"admin:" + s.encode()).decode(),
}


@pytest.fixture
def secret() -> str:
    """SECRET, registered for redaction as a secret resolved from the environment file would be."""
    REGISTRY.add(SECRET)
    return SECRET


def _decodes_to_secret(text: str, secret: str) -> bool:
    """Whether any base64 run of the text, at any alignment, still decodes to the secret's bytes."""
    raw = secret.encode()
    for run in re.findall(r"[A-Za-z0-9+/_-]{8,}", text):
        run = run.replace("-", "+").replace("_", "/")
        for start in range(4):
            chunk = run[start:]
            chunk = chunk[: len(chunk) // 4 * 4]
            try:
                if raw in base64.b64decode(chunk):
                    return True
            except binascii.Error:
                continue
    return False


@pytest.mark.parametrize("encode", ENCODINGS.values(), ids=ENCODINGS.keys())
def test_the_console_masks_every_spelling(encode: Callable[[str], str], secret: str) -> None:
    spelled = encode(secret)
    line = redact(f"cook output: {spelled} (end)")
    assert MASK in line, line
    assert spelled not in line and secret not in line, line
    assert not _decodes_to_secret(line, secret), line
    assert line.startswith("cook output: ") and line.endswith(" (end)")


@pytest.mark.parametrize("encode", ENCODINGS.values(), ids=ENCODINGS.keys())
def test_the_file_scan_finds_every_spelling(encode: Callable[[str], str], secret: str, tmp_path: Path) -> None:
    for name, text in (("report.json", encode(secret)), ("report.html", html.escape(encode(secret)))):
        path = tmp_path / name
        path.write_text(f"before {text} after", encoding="utf-8")
        leaks = redaction.scan([path], [secret])
        assert [leak.path for leak in leaks] == [path], f"{name}: {text}"
        assert secret not in leaks[0].line()
        assert (tmp_path / f"{name}{redaction.LEAK_SUFFIX}").exists()


def test_a_file_without_the_secret_passes_the_scan(secret: str, tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"password": MASK, "note": "Pàss-wörd is not the whole secret"}))
    assert redaction.scan([path], [secret]) == []
    assert path.exists()


def test_forms_are_computed_once_per_secret(secret: str) -> None:
    assert REGISTRY.forms(secret) is REGISTRY.forms(secret)
    assert redaction.leak_forms(secret) is REGISTRY.forms(secret)


def test_a_secret_too_short_to_mask_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    short = "x" * (MIN_SECRET_LENGTH - 1)
    monkeypatch.setenv("PUBLIK_SHORT_SECRET", short)
    ref = SecretRef("env", "PUBLIK_SHORT_SECRET", "env.yml: instances[0].superuser_password")
    with pytest.raises(ConfigError) as caught:
        ref.resolve()
    message = str(caught.value)
    assert message == (f"env.yml: instances[0].superuser_password: secret from $PUBLIK_SHORT_SECRET is shorter "
                       f"than {MIN_SECRET_LENGTH} characters: too short to be masked in reports")
    assert short not in REGISTRY.values() and not ref.is_available()

    secret_file = tmp_path / "password"
    secret_file.write_text("y" * (MIN_SECRET_LENGTH - 1) + "\n")
    with pytest.raises(ConfigError, match="too short to be masked"):
        SecretRef("file", str(secret_file), "env.yml: database.direct.password").resolve()


def test_a_secret_long_enough_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    value = "z" * (MIN_SECRET_LENGTH - 1) + "Z"
    monkeypatch.setenv("PUBLIK_LONG_ENOUGH", value)
    assert SecretRef("env", "PUBLIK_LONG_ENOUGH", "env.yml: x").resolve() == value
    assert value in REGISTRY.values()
    assert redact(f"password={value}") == f"password={MASK}"


# A browser's form body (WHATWG urlencoded) keeps `*` and encodes `~`: Python's quote_plus does the reverse,
# so this secret's form-body spelling is none of the others. The login posts the password in such a body.
FORM_SECRET = "tilde~star*space here-1234"


def _browser_form_body(secret: str) -> str:
    spelled = "".join(c if c.isascii() and (c.isalnum() or c in "*-._") else "+" if c == " " else
                      "".join(f"%{b:02X}" for b in c.encode()) for c in secret)
    return f"csrfmiddlewaretoken=Xy12&username=admin%40example.test&password={spelled}&login-password-submit="


def test_a_login_form_body_is_masked_and_found(tmp_path: Path) -> None:
    REGISTRY.add(FORM_SECRET)
    body = _browser_form_body(FORM_SECRET)
    assert "tilde%7Estar*space+here-1234" in body  # the spelling under test
    assert FORM_SECRET not in redact(body) and "tilde%7Estar*space+here-1234" not in redact(body)
    for spelled in (body, urlencode({"password": FORM_SECRET}), body.replace("%7E", "%7e")):
        leaked = tmp_path / f"trace-{len(list(tmp_path.iterdir()))}.txt"
        leaked.write_text(f"POST https://connexion.example.test/login/ body: {spelled}", encoding="utf-8")
        assert [leak.path for leak in redaction.scan([leaked], [FORM_SECRET])] == [leaked]
