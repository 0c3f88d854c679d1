"""What Publik does for each recipe action: tenant path, owner, database rule, expected landing.

This is publik-reference.md §3–5 as data. Every field can be overridden per environment
(`services.<kind>` in the environment file), because platforms differ and some facts are unconfirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Landing(Enum):
    """What a healthy tenant shows on `GET /` once deployed."""

    PAGE = "page"  # 200 with expected texts (combo portals)
    LOGIN = "login"  # the identity provider's own login page (authentic)
    LOGIN_REDIRECT = "login-redirect"  # redirect chain ending on the authentic login page
    PORTAL_REDIRECT = "portal-redirect"  # redirect to the user portal (w.c.s. homepage-redirect-url)


@dataclass(frozen=True)
class ServiceKind:
    name: str
    action: str
    tenants_dir: str
    owner: str
    database: str | None  # shared database of a Django service; None for w.c.s. (one per tenant)
    landing: Landing
    manage: str = ""  # the service's manage command (`<manage> list_tenants`: publik-reference.md §3)

    @property
    def per_tenant_database(self) -> bool:
        return self.database is None


def _django(name: str, owner: str, database: str, landing: Landing, lib: str | None = None) -> ServiceKind:
    return ServiceKind(
        name=name,
        action=f"create-{name}",
        tenants_dir=f"/var/lib/{lib or name}/tenants",
        owner=owner,
        database=database,
        landing=landing,
        manage=f"{lib or name}-manage",
    )


SERVICE_KINDS: dict[str, ServiceKind] = {
    kind.name: kind
    for kind in (
        _django("hobo", "hobo", "hobo", Landing.LOGIN_REDIRECT),
        ServiceKind(
            name="authentic",
            action="create-authentic",
            tenants_dir="/var/lib/authentic2-multitenant/tenants",
            owner="authentic-multitenant",
            database="authentic2_multitenant",
            landing=Landing.LOGIN,
            manage="authentic2-multitenant-manage",
        ),
        _django("combo", "combo", "combo", Landing.PAGE),
        _django("passerelle", "passerelle", "passerelle", Landing.LOGIN_REDIRECT),
        _django("fargo", "fargo", "fargo", Landing.LOGIN_REDIRECT),
        _django("chrono", "chrono", "chrono", Landing.LOGIN_REDIRECT),
        _django("bijoe", "bijoe", "bijoe", Landing.LOGIN_REDIRECT),
        _django("lingo", "lingo", "lingo", Landing.LOGIN_REDIRECT),
        _django("welco", "welco", "welco", Landing.LOGIN_REDIRECT),
        ServiceKind(
            name="wcs",
            action="create-wcs",
            tenants_dir="/var/lib/wcs/tenants",
            owner="wcs",
            database=None,
            landing=Landing.PORTAL_REDIRECT,
            manage="wcs-manage",
        ),
    )
}

KIND_BY_ACTION: dict[str, ServiceKind] = {kind.action: kind for kind in SERVICE_KINDS.values()}

# Recipe actions that configure rather than create a service, with the parameters they require.
CONFIG_ACTIONS: dict[str, tuple[str, ...]] = {
    "create-superuser": (),
    "set-idp": (),
    "set-theme": ("theme",),
    "set-variable": ("name",),
    "set-attribute": ("name",),
    "enable-attribute": ("name",),
    "disable-attribute": ("name",),
    "create-site": (),
    "add-login-button": (),
}

KNOWN_ACTIONS: frozenset[str] = frozenset(KIND_BY_ACTION) | frozenset(CONFIG_ACTIONS)

COMBO_EMPTY_SITE_TEXTS = ("Votre installation de Combo fonctionne", "Le site est actuellement vide")
LOGIN_PATH = "/login/"
LOGIN_TITLE = "Connexion"
USER_PORTAL_TEMPLATE = "portal-user"
WCS_SKELETONS_DIR = "/var/lib/wcs/skeletons"
WCS_DATABASE_TEMPLATE = "wcs_%s"
WCS_DEPLOYING_HOSTNAME = "deployment-in-progress.invalid"
