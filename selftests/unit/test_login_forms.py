"""Forms read generically (authentic's login form, the SAML POST form) and the login session's cookie jar."""

from __future__ import annotations

from publik_acceptance.evidence.probes.browser import CookieJar
from publik_acceptance.evidence.probes.forms import login_form, read_forms, saml_post_form, submission

LOGIN_URL = "https://connexion.example.test/login/?next=/idp/saml2/continue%3Fnonce%3D_1&nonce=_1"
# authentic2's login_password_form.html rendered: csrf token, Django's AuthenticationForm, the named submit.
AUTHENTIC_LOGIN = """<html><head><title>Connexion</title></head><body>
<form action="/search" method="get"><input name="q"></form>
<div><form method="post" action="">
<input type='hidden' name='csrfmiddlewaretoken' value='Xy12' />
<p><label for="id_username">Identifiant ou courriel :</label> <input type="text" name="username" id="id_username"></p>
<p><label for="id_password">Mot de passe :</label> <input type="password" name="password" id="id_password"></p>
<p><input type="checkbox" name="remember_me" id="id_remember_me"></p>
<input type="submit" name="login-password-submit" value="Connexion"/>
<input type="submit" name="cancel" value="Annuler"/>
</form></div></body></html>"""
# authentic2's saml/post_form.html rendered.
SAML_FORM = """<div class="post-redirect"><h2>Redirection</h2>
<form action="https://portail.example.test/accounts/mellon/login/" method="post" name="saml">
   <input type="hidden" name="SAMLResponse" value="PHNhbWxwOlJlc3BvbnNl" />
   <input type="hidden" name="RelayState" value="3f1c"/>
   <noscript><div class="buttons-bar"><input type="submit" name="sendButton" value="Envoyer" /></div></noscript>
</form></div><script>document.forms['saml'].submit()</script>"""


def test_authentics_login_form_is_found_by_its_password_input() -> None:
    form = login_form(AUTHENTIC_LOGIN, LOGIN_URL)
    assert form is not None
    assert form.action == LOGIN_URL and form.method == "POST"  # action="" posts to the page itself
    assert form.username_field is not None and form.username_field.name == "username"
    assert form.password_field is not None and form.password_field.name == "password"
    assert form.hidden() == [("csrfmiddlewaretoken", "Xy12")]
    assert form.names() == ["csrfmiddlewaretoken", "username", "password", "login-password-submit (submit)",
                            "cancel (submit)"]


def test_the_submission_carries_hidden_fields_credentials_and_the_first_submit_button() -> None:
    form = login_form(AUTHENTIC_LOGIN, LOGIN_URL)
    assert form is not None
    assert submission(form, {"username": "admin@example.test", "password": "pw"}) == [
        ("csrfmiddlewaretoken", "Xy12"), ("username", "admin@example.test"), ("password", "pw"),
        ("login-password-submit", "Connexion")]


def test_an_email_input_is_the_username_whatever_its_name() -> None:
    page = "<form method=post><input type=email name=identifiant_x><input type=password name=pw></form>"
    form = login_form(page, "https://idp.example.test/login/")
    assert form is not None and form.username_field is not None and form.username_field.name == "identifiant_x"
    assert form.action == "https://idp.example.test/login/"


def test_the_saml_post_form_and_its_action() -> None:
    form = saml_post_form(SAML_FORM, "https://connexion.example.test/idp/saml2/continue?nonce=_1")
    assert form is not None and form.action == "https://portail.example.test/accounts/mellon/login/"
    assert submission(form, {}) == [("SAMLResponse", "PHNhbWxwOlJlc3BvbnNl"), ("RelayState", "3f1c"),
                                    ("sendButton", "Envoyer")]
    assert saml_post_form(AUTHENTIC_LOGIN, LOGIN_URL) is None
    assert len(read_forms(AUTHENTIC_LOGIN, LOGIN_URL)) == 2


def test_cookies_stay_with_their_host_and_domain_cookies_reach_subdomains() -> None:
    jar = CookieJar()
    jar.store("connexion.example.test", ("csrftoken=abc; expires=Mon, 29 Nov 2027 12:00:00 GMT; Path=/; Secure",
                                         "sessionid=s1; HttpOnly; Path=/; SameSite=Lax"))
    jar.store("portail.example.test", ("publik_portal=1; Domain=.example.test; Path=/",
                                       "evil=1; Domain=other.test; Path=/"))
    assert jar.header("connexion.example.test") == "publik_portal=1; csrftoken=abc; sessionid=s1"
    assert jar.header("portail.example.test") == "publik_portal=1"
    assert jar.header("other.test") is None  # a cookie set for another site is refused
    jar.store("connexion.example.test", ('sessionid=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/',))
    assert jar.names("connexion.example.test") == ["publik_portal", "csrftoken"]
