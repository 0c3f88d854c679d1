"""The HTML pages of the sandbox's federation: authentic's login and SAML pages, the SPs' own.

Shapes and French texts follow authentic2, django-mellon and w.c.s. (see /work/notes/saml-contract.md
in the session that wrote them): authentic's login form posts to itself (`action=""`) with a hidden
csrfmiddlewaretoken and a `login-password-submit` button; the SAML response goes back in an
auto-submitted form. Every value put in a page is escaped.
"""

from __future__ import annotations

from html import escape


def _page(title: str, body: str, lang: str = "fr") -> str:
    return (f'<!doctype html>\n<html lang="{lang}">\n<head>\n  <meta charset="utf-8">\n'
            f"  <title>{escape(title)}</title>\n</head>\n<body>\n{body}</body>\n</html>\n")


LOGIN_ERROR = ("Saisissez un identifiant et un mot de passe valides. Remarquez que chacun de ces champs "
               "est sensible à la casse (différenciation des majuscules/minuscules).")


def login_page(csrf: str, error: str = "") -> str:
    """authentic's login page (the form posts to the page's own URL, ?next=… included)."""
    message = f'  <div class="errornotice"><p>{escape(error)}</p></div>\n' if error else ""
    return _page("Connexion", (
        "  <h1>Connexion</h1>\n" + message
        + '  <form method="post" action="">\n'
        f'    <input type="hidden" name="csrfmiddlewaretoken" value="{escape(csrf, quote=True)}">\n'
        '    <label for="id_username">Identifiant ou courriel</label>\n'
        '    <input type="text" name="username" id="id_username" autocomplete="username">\n'
        '    <label for="id_password">Mot de passe</label>\n'
        '    <input type="password" name="password" id="id_password" autocomplete="current-password">\n'
        '    <button type="submit" name="login-password-submit">Se connecter</button>\n'
        "  </form>\n"))


def unknown_provider_page(entity_id: str) -> str:
    """authentic's unknown_provider.html, in French."""
    return _page("Fournisseur de service inconnu", (
        "  <h1>Fournisseur de service inconnu</h1>\n"
        f"  <p>Nous n'avons pas pu charger le fournisseur de service <tt>{escape(entity_id)}</tt>.</p>\n"))


def post_form(url: str, field: str, message: str, relay_state: str | None) -> str:
    """authentic's saml/post_form.html: the signed message, auto-submitted to the SP."""
    relay = (f'    <input type="hidden" name="RelayState" value="{escape(relay_state, quote=True)}">\n'
             if relay_state else "")
    return _page("Redirection", (
        f'  <form action="{escape(url, quote=True)}" method="post" name="saml">\n'
        f'    <input type="hidden" name="{escape(field, quote=True)}" value="{escape(message, quote=True)}">\n'
        + relay
        + '    <input type="submit" value="Continuer">\n  </form>\n'
        '  <script type="text/javascript">document.forms[0].submit();</script>\n'))


def error_page(title: str, message: str, lang: str = "fr") -> str:
    return _page(title, f"  <h1>{escape(title)}</h1>\n  <p>{escape(message)}</p>\n", lang)


def user_block(email: str) -> str:
    """What a logged-in page shows: the user and the logout link (absent when anonymous)."""
    return (f'  <div class="user-info"><span class="connected-user">{escape(email)}</span>\n'
            '    <a class="logout" href="/logout/">Déconnexion</a></div>\n')


def account_page(title: str, email: str) -> str:
    """A logged-in page of a Django service (hobo's, authentic's own account page…)."""
    return _page(title, f"  <h1>{escape(title)}</h1>\n" + user_block(email))


def backoffice_page(email: str) -> str:
    """w.c.s.'s back office, logged in."""
    return _page("Back-office", (
        '  <div id="sidebar"><h1>Back-office</h1></div>\n'
        f'  <div class="user-info"><span class="connected-user">{escape(email)}</span>\n'
        '    <a class="logout" href="/logout">Déconnexion</a></div>\n'
        "  <h2>Formulaires</h2>\n"))
