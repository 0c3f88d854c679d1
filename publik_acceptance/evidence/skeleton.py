"""A w.c.s. skeleton `modele.zip` found on a server: what it holds and what is wrong with it.

The zip holds `config.json` and `site-options.cfg` at its root (publik-reference.md §6). It carries
database passwords: they are registered as secrets the moment they are read, and never shown.
Reading is bounded (size, members, ratio) since the file belongs to another user of the server.
"""

from __future__ import annotations

import configparser
import io
import json
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

from publik_acceptance.config.secrets import REGISTRY

CONFIG_JSON = "config.json"
SITE_OPTIONS = "site-options.cfg"
REQUIRED_CREATEDB_KEYS = ("database", "user")


@dataclass
class SkeletonReport:
    """What a skeleton zip holds, and what is wrong with it (empty `problems` means usable)."""

    members: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    site_options: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def database_template(self) -> str | None:
        return self.config.get("postgresql", {}).get("database-template-name")

    @property
    def createdb_params(self) -> dict[str, Any]:
        return self.config.get("postgresql", {}).get("createdb-connection-params") or {}

    @property
    def homepage_redirect_url(self) -> str | None:
        return self.config.get("misc", {}).get("homepage-redirect-url")

    def summary(self) -> dict[str, Any]:
        """Evidence fit for a report: structure only, never values of the database parameters."""
        return {
            "members": self.members,
            "config_sections": sorted(self.config),
            "createdb_keys": sorted(self.createdb_params),
            "database_template": self.database_template,
            "homepage_redirect_url": self.homepage_redirect_url,
            "site_options_sections": sorted(self.site_options),
            "problems": self.problems,
        }


def describe_skeleton(report: SkeletonReport) -> str:
    """One line for a failure message; never a value of the database parameters."""
    summary = report.summary()
    return (f"members: {', '.join(summary['members']) or 'none'}; config.json sections: "
            f"{', '.join(summary['config_sections']) or 'none'}; createdb keys: "
            f"{', '.join(summary['createdb_keys']) or 'none'}; database-template-name: "
            f"{summary['database_template']}; homepage-redirect-url: {summary['homepage_redirect_url']}")


# A skeleton found on a server is the server's word: bounded before anything is expanded. A real one
# is a few KiB (two small text files).
MAX_ZIP_BYTES = 1024 * 1024
MAX_MEMBERS = 64
MAX_MEMBER_BYTES = 256 * 1024  # uncompressed, per member we read
MAX_RATIO = 100  # uncompressed / compressed for a member over 64 KiB: JSON and INI text do ~5:1, a bomb ~1000:1
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError, OSError, ValueError)


def inspect_skeleton(data: bytes) -> SkeletonReport:
    report = SkeletonReport()
    if len(data) > MAX_ZIP_BYTES:
        report.problems.append(f"more than {MAX_ZIP_BYTES // 1024} KiB ({len(data)} bytes read): a skeleton is a "
                               "few KiB, this one was not inspected (damaged, or a zip bomb?)")
        return report
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _READ_ERRORS:
        report.problems.append(f"not a valid zip file ({len(data)} bytes)")
        return report
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            report.members = sorted(info.filename[:100] for info in infos[:MAX_MEMBERS])
            report.problems.append(f"{len(infos)} members, more than the {MAX_MEMBERS} a skeleton could have: "
                                   "not inspected")
            return report
        report.members = sorted(info.filename for info in infos)
        for name, inspect in ((CONFIG_JSON, _inspect_config), (SITE_OPTIONS, _inspect_site_options)):
            if name not in report.members:
                report.problems.append(f"{name} is missing at the zip root")
                continue
            raw = _read_member(archive, name, report)
            if raw is not None:
                inspect(raw, report)
    return report


def _read_member(archive: zipfile.ZipFile, name: str, report: SkeletonReport) -> bytes | None:
    """A member's bytes; refused when its declared size or compression ratio is absurd, and read
    through a bounded reader all the same, since the declared size is only the server's word."""
    info = archive.getinfo(name)
    limit = f"{MAX_MEMBER_BYTES // 1024} KiB"
    if info.file_size > MAX_MEMBER_BYTES:
        report.problems.append(f"{name} declares {info.file_size} bytes uncompressed, over the {limit} a skeleton "
                               "file may be: not read (a zip bomb?)")
        return None
    if info.file_size > 64 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        report.problems.append(f"{name} expands {info.compress_size} bytes into {info.file_size}, more than "
                               f"{MAX_RATIO} times: not read (a zip bomb?)")
        return None
    try:
        with archive.open(info) as member:
            raw = member.read(MAX_MEMBER_BYTES + 1)
    except _READ_ERRORS as exc:  # a lying size ends in a bad CRC; also encrypted or unknown compression
        report.problems.append(f"{name} cannot be read: {str(exc)[:200]}")
        return None
    if len(raw) > MAX_MEMBER_BYTES:
        report.problems.append(f"{name} expands beyond {limit}: not read")
        return None
    return raw


def _inspect_config(raw: bytes, report: SkeletonReport) -> None:
    try:
        config = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        report.problems.append(f"config.json is not valid JSON: {exc}")
        return
    if not isinstance(config, dict):
        report.problems.append("config.json is not a JSON object")
        return
    report.config = config
    postgresql = config.get("postgresql")
    _register_passwords(postgresql)
    if not isinstance(postgresql, dict):
        report.problems.append("config.json has no 'postgresql' section: w.c.s. would create no database")
        return
    createdb = postgresql.get("createdb-connection-params")
    if not isinstance(createdb, dict):
        report.problems.append("config.json lacks postgresql.createdb-connection-params")
    else:
        for key in REQUIRED_CREATEDB_KEYS:
            if not createdb.get(key):
                report.problems.append(f"config.json lacks postgresql.createdb-connection-params.{key}")
    template = postgresql.get("database-template-name")
    if not isinstance(template, str) or "%s" not in template:
        report.problems.append("config.json lacks postgresql.database-template-name with a %s")


def _register_passwords(section: Any) -> None:
    """Passwords read from a skeleton are secrets from now on: redacted from every output."""
    if isinstance(section, dict):
        for key, value in section.items():
            if key == "password" and isinstance(value, str):
                REGISTRY.add(value)
            else:
                _register_passwords(value)


def _inspect_site_options(raw: bytes, report: SkeletonReport) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(raw.decode("utf-8"))
    except (UnicodeDecodeError, configparser.Error) as exc:
        report.problems.append(f"site-options.cfg does not parse: {str(exc).splitlines()[0]}")
        return
    report.site_options = {section: dict(parser[section]) for section in parser.sections()}
