"""How the deploy speaks to a server: a script with its values as arguments, as a given user; text read back.

Every value (a path, a user, a token, a record) goes to `sh -c` as a positional argument, never into
the script's text, so that nothing from an environment file or a server can become shell code. Text
read back from a server is cleaned before it reaches a report line.
"""

from __future__ import annotations

import shlex
import unicodedata
from collections.abc import Callable

from publik_acceptance.config.secrets import redact
from publik_acceptance.evidence.probes.remote import RemoteResult

# One command on the hobo server (the cook's `_remote`: the same arguments as `SshPool.run` without the role).
Remote = Callable[..., RemoteResult]
VALUE_LIMIT = 120  # characters of one value from a server we show


def script(prefix: str, text: str, *args: str, name: str = "sh") -> str:
    """`sh -c SCRIPT NAME ARGS…`: values go in as positional arguments, never into the script text."""
    return f"{prefix}sh -c {shlex.quote(text)} " + " ".join(shlex.quote(a) for a in (name, *args))


def clean(text: str, limit: int = VALUE_LIMIT) -> str:
    """A value from a server, made safe for a report line: no control or format characters, bounded."""
    kept = "".join(c if unicodedata.category(c)[0] != "C" else "?" for c in text)
    return kept if len(kept) <= limit else kept[:limit] + "…"


def failure(outcome: RemoteResult) -> str:
    """Why a remote command failed, for a message: its stderr (redacted, cleaned, bounded), else its exit status."""
    return clean(redact(outcome.stderr.strip()), 300) or f"exit {outcome.exit_status}"
