"""SAML documents read from real shapes (authentic2, django-mellon, w.c.s., lasso), and hostile ones refused."""

from __future__ import annotations

import base64
import time
from urllib.parse import urlencode

import pytest

from publik_acceptance.evidence.probes.saml import (
    MAX_MESSAGE,
    POST,
    REDIRECT,
    SamlDocumentError,
    inflate_redirect_message,
    parse_xml,
    read_authn_request,
    read_metadata,
)

from .saml_documents import IDP, authn_request, deflated, idp_metadata, mellon_metadata, sso_url, wcs_metadata


def test_authentic_metadata_is_read_by_namespace_whatever_its_prefixes() -> None:
    metadata = read_metadata(idp_metadata())
    assert metadata.entity_id == f"https://{IDP}/idp/saml2/metadata"
    assert metadata.sp is None and metadata.idp is not None
    assert metadata.idp.protocols == ("urn:oasis:names:tc:SAML:2.0:protocol",)
    assert [(e.binding, e.location) for e in metadata.idp.single_sign_on] == [
        (REDIRECT, f"https://{IDP}/idp/saml2/sso"), (POST, f"https://{IDP}/idp/saml2/sso")]
    [key] = metadata.idp.keys
    assert key.use == "signing" and key.certificate is not None and IDP in key.certificate.subject
    assert any("SingleSignOnService HTTP-Redirect" in line for line in metadata.describe())


def test_mellon_and_wcs_metadata_give_entity_id_and_consumers() -> None:
    mellon = read_metadata(mellon_metadata("portail.example.test"))
    assert mellon.entity_id == "https://portail.example.test/accounts/mellon/metadata/"
    assert mellon.sp is not None and mellon.sp.keys[0].use is None
    assert {e.binding.rsplit(":", 1)[-1] for e in mellon.sp.assertion_consumers} == {"HTTP-Artifact", "HTTP-POST"}
    wcs = read_metadata(wcs_metadata("demarches.example.test"))
    assert wcs.entity_id == "https://demarches.example.test/saml/metadata"
    assert wcs.sp is not None
    assert (POST, "https://demarches.example.test/saml/assertionConsumerPost") in [
        (e.binding, e.location) for e in wcs.sp.assertion_consumers]


@pytest.mark.parametrize("document, words", [
    ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
     '<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&lol2;"/>', "a DTD"),
    ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY ext SYSTEM "file:///etc/passwd">]>'
     '<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&ext;"/>', "a DTD"),
    ("<html><body>Bad gateway", "not well-formed XML"),
    ("", "not well-formed XML"),
])
def test_dtds_and_broken_xml_are_refused(document: str, words: str) -> None:
    with pytest.raises(SamlDocumentError, match=words):
        parse_xml(document)


def test_a_document_that_is_not_an_entity_descriptor_says_what_it_is() -> None:
    with pytest.raises(SamlDocumentError, match=r"root element html \(no namespace\)"):
        read_metadata("<html><title>Connexion</title></html>")
    with pytest.raises(SamlDocumentError, match="without entityID"):
        read_metadata('<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"/>')


def test_the_authn_request_of_an_sso_url_gives_its_issuer_and_signature() -> None:
    request = read_authn_request(sso_url("https://portail.example.test/accounts/mellon/metadata/"))
    assert request.issuer == "https://portail.example.test/accounts/mellon/metadata/"
    assert request.destination == f"https://{IDP}/idp/saml2/sso"
    assert request.signed
    assert not read_authn_request(sso_url("https://x.example.test/saml/metadata", signed=False)).signed


@pytest.mark.parametrize("value, words", [
    ("%%%not-base64", "not base64"),
    (base64.b64encode(b"plain text, not deflated").decode(), "not raw DEFLATE"),
])
def test_an_unreadable_saml_request_is_named(value: str, words: str) -> None:
    with pytest.raises(SamlDocumentError, match=words):
        inflate_redirect_message(value)


def test_a_deflate_bomb_costs_bounded_time_and_memory() -> None:
    # 64 MiB of zeros deflate to ~64 KiB: inflating it whole would take 64 MiB; max_length stops at MAX_MESSAGE.
    bomb = deflated(b"\0" * (64 * 1024 * 1024))
    started = time.monotonic()
    with pytest.raises(SamlDocumentError, match="inflates to more than 64 KiB"):
        inflate_redirect_message(bomb)
    assert time.monotonic() - started < 1.0
    assert inflate_redirect_message(deflated(b"x" * 100)) == b"x" * 100
    assert len(inflate_redirect_message(deflated(b"y" * MAX_MESSAGE))) == MAX_MESSAGE  # the bound itself passes


def test_an_sso_url_without_an_authn_request_is_refused() -> None:
    with pytest.raises(SamlDocumentError, match="no SAMLRequest"):
        read_authn_request(f"https://{IDP}/idp/saml2/sso?RelayState=x")
    logout = deflated(authn_request("x").replace("AuthnRequest", "LogoutRequest"))
    with pytest.raises(SamlDocumentError, match="LogoutRequest"):
        read_authn_request(f"https://{IDP}/idp/saml2/sso?{urlencode({'SAMLRequest': logout})}")
