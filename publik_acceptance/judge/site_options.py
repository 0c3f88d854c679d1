"""The w.c.s. site options judge (postdeploy): the tenant's site-options.cfg carries the skeleton's.

w.c.s. copies the skeleton's site-options.cfg into a new tenant, then its hobo_deploy adds what it
manages itself: the [hobo] timestamp, [variables], the [api-secrets]/[wscall-secrets] shared secrets,
[legacy-urls], and a few [options] (allowed_hostname, idp_session_cookie_name, theme_skeleton_url,
local-region-code). Every other section and key of the skeleton must be in the tenant with the same
value. The tenant's file holds shared secrets: only the skeleton's own keys are ever shown.
"""

from __future__ import annotations

import configparser

from publik_acceptance.config.catalogue import WCS_DEPLOYING_HOSTNAME
from publik_acceptance.evidence.preflight import SkeletonFacts
from publik_acceptance.judge.expectations import Judgement, State, ok
from publik_acceptance.plan import Target

MANAGED_SECTIONS = frozenset({"hobo", "variables", "api-secrets", "wscall-secrets", "legacy-urls"})
MANAGED_OPTIONS = frozenset({"allowed_hostname", "idp_session_cookie_name", "theme_skeleton_url", "local-region-code"})
SHOWN = 4  # differences spelt out in a message; the rest are counted
VALUE_CHARS = 60


def compared_options(options: dict[str, dict[str, str]]) -> dict[tuple[str, str], str]:
    """The skeleton's (section, key) → value that the tenant must carry as they are."""
    return {(section, key): value.strip() for section, keys in options.items() if section not in MANAGED_SECTIONS
            for key, value in keys.items() if not (section == "options" and key in MANAGED_OPTIONS)}


def _parse(raw: bytes) -> configparser.ConfigParser | str:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(raw.decode("utf-8"))
    except (UnicodeDecodeError, configparser.Error) as exc:
        return str(exc).splitlines()[0][:120]
    return parser


def _short(value: str) -> str:
    return repr(value if len(value) <= VALUE_CHARS else value[:VALUE_CHARS] + "…")


def differences(wanted: dict[tuple[str, str], str], parser: configparser.ConfigParser) -> list[str]:
    found = []
    for (section, key), value in sorted(wanted.items()):
        if not parser.has_option(section, key):
            found.append(f"[{section}] {key} missing")
        elif parser.get(section, key).strip() != value:
            found.append(f"[{section}] {key} = {_short(parser.get(section, key).strip())}, the skeleton says "
                         f"{_short(value)}")
    return found


def judge_wcs_site_options(target: Target, skeleton: SkeletonFacts | None, site_options: bytes | None,
                           place: str | None = None) -> Judgement:
    """`place`: the tenant directory found (w.c.s. may use its old location); the Plan's by default."""
    path = f"{place or target.tenant_dir}/site-options.cfg"
    if skeleton is None or skeleton.report is None:
        where = skeleton.path if skeleton is not None else f"the skeletons directory ({target.template_name})"
        return Judgement(State.WRONG, f"{path} with the options of the skeleton", f"no readable skeleton in {where}",
                         "put the skeleton back (inv render, or let the cook upload it): w.c.s. deployed this "
                         "tenant from it", (f"skeleton on {target.server}: {where}",))
    name = skeleton.template
    expected = f"{path} with every option of the skeleton {name}"
    if skeleton.report.problems or not skeleton.report.site_options:
        problem = "; ".join(skeleton.report.problems) or "site-options.cfg of the skeleton sets nothing"
        return Judgement(State.WRONG, expected, f"skeleton {name}: {problem}",
                         f"fix the skeleton ({skeleton.path}) and redeploy", (f"skeleton: {skeleton.path}",))
    wanted = compared_options(skeleton.report.site_options)
    evidence = (f"skeleton {skeleton.path}: {len(wanted)} option(s) in "
                f"{', '.join(sorted({s for s, _ in wanted})) or 'no section'}",)
    if site_options is None:
        return Judgement(State.PENDING, expected, "site-options.cfg not readable yet",
                         f"the w.c.s. tenant is not deployed yet: check wcs-manage hobo_deploy on {target.server}",
                         evidence)
    parser = _parse(site_options)
    if isinstance(parser, str):
        return Judgement(State.WRONG, expected, f"site-options.cfg does not parse: {parser}",
                         "w.c.s. cannot read it either: restore it from the skeleton and redeploy", evidence)
    if parser.get("options", "allowed_hostname", fallback=None) == WCS_DEPLOYING_HOSTNAME:
        return Judgement(State.PENDING, expected, "deployment still in progress (allowed_hostname marker)",
                         "w.c.s. deployment still in progress or interrupted: check wcs-manage hobo_deploy", evidence)
    found = differences(wanted, parser)
    if found:
        more = f" and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
        return Judgement(State.WRONG, expected, f"{len(found)} of the skeleton's {len(wanted)} option(s) differ: "
                         + "; ".join(found[:SHOWN]) + more,
                         f"the tenant was not deployed from this skeleton (or was edited since): copy the "
                         f"skeleton's options into {path}, or delete the tenant and cook again", evidence)
    return ok(expected, f"all {len(wanted)} option(s) of the skeleton present", evidence)
