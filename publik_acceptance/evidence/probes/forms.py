"""HTML forms as a browser would submit them, read generically (no field name is relied on).

Two forms matter for a login: the identity provider's login form (the one holding a password input) and
the SAML POST form (the one holding a SAMLResponse input, auto-submitted by JavaScript in a browser).
What is read: the form's action (resolved against the page URL: authentic's is `action=""`, the page
itself), its method, every input with its type, name and value, and its submit buttons (authentic only
accepts the POST when its submit button's name is in it). html.parser is linear in the page, and pages
come from the http probe, bounded at MAX_BODY.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

USERNAME_NAMES = ("username", "email", "login", "user", "identifiant")
MAX_FORMS = 50


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # lower-cased; "text" when absent
    value: str


@dataclass
class Form:
    action: str  # absolute
    method: str  # upper-cased
    fields: list[Field] = field(default_factory=list)
    submits: list[Field] = field(default_factory=list)  # named submit inputs and buttons, in page order

    def has(self, name: str) -> bool:
        return any(f.name == name for f in self.fields)

    def value(self, name: str) -> str | None:
        return next((f.value for f in self.fields if f.name == name), None)

    @property
    def password_field(self) -> Field | None:
        return next((f for f in self.fields if f.type == "password"), None)

    @property
    def username_field(self) -> Field | None:
        """The login's identifier: an email input, else a text input with a known name, else the first text input."""
        candidates = [f for f in self.fields if f.type in ("text", "email") and f.name]
        return (next((f for f in candidates if f.type == "email"), None)
                or next((f for f in candidates if f.name.lower() in USERNAME_NAMES), None)
                or (candidates[0] if candidates else None))

    def hidden(self) -> list[tuple[str, str]]:
        return [(f.name, f.value) for f in self.fields if f.type == "hidden" and f.name]

    def names(self) -> list[str]:
        """The field names (never their values: a form may carry a token or an assertion)."""
        return [f.name for f in self.fields if f.name] + [f"{s.name} (submit)" for s in self.submits]


class _FormParser(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.forms: list[Form] = []
        self._current: Form | None = None
        self._button: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "form":
            if len(self.forms) < MAX_FORMS:
                self._current = Form(urljoin(self.base, a.get("action", "").strip()),
                                     (a.get("method") or "get").upper())
                self.forms.append(self._current)
            return
        if self._current is None:
            return
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            entry = Field(a.get("name", ""), kind, a.get("value", ""))
            if kind in ("submit", "image"):
                if entry.name:
                    self._current.submits.append(entry)
            elif kind in ("checkbox", "radio"):
                if "checked" in a and entry.name:
                    self._current.fields.append(Field(entry.name, kind, a.get("value") or "on"))
            elif kind not in ("button", "reset", "file"):
                self._current.fields.append(entry)
        elif tag == "button" and (a.get("type") or "submit").lower() == "submit" and a.get("name"):
            self._current.submits.append(Field(a["name"], "submit", a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def read_forms(page: str, url: str) -> list[Form]:
    """Every form of `page` (fetched from `url`), in page order."""
    parser = _FormParser(url)
    parser.feed(page)
    parser.close()
    return parser.forms


def login_form(page: str, url: str) -> Form | None:
    """The form holding a password input, or None."""
    return next((f for f in read_forms(page, url) if f.password_field is not None), None)


def saml_post_form(page: str, url: str, message: str = "SAMLResponse") -> Form | None:
    """The form carrying a SAML message (SAMLResponse, or SAMLRequest) in the POST binding, or None."""
    return next((f for f in read_forms(page, url) if f.has(message)), None)


def submission(form: Form, values: dict[str, str]) -> list[tuple[str, str]]:
    """What a browser sends for `form` with `values` typed in: every field (hidden ones as they are), then
    the first named submit button, as if clicked."""
    pairs = [(f.name, values.get(f.name, f.value)) for f in form.fields if f.name]
    given = {name for name, _ in pairs}
    pairs += [(name, value) for name, value in values.items() if name not in given]
    if form.submits:
        pairs.append((form.submits[0].name, form.submits[0].value))
    return pairs
