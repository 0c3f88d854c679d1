"""SAML 2.0 documents as facts: metadata (IdP and SP) and the AuthnRequest an SP sends in a redirect.

Everything here reads what a server sent, so it is bounded and refuses what SAML never needs:
- XML is parsed by expat with any DTD refused (so no entity can be declared: no billion laughs, no
  external entity), by namespace URI (authentic writes the metadata namespace as the default one or under
  a generated prefix, django-mellon as the default one: prefixes are never relied on);
- an HTTP-Redirect message (base64 of raw DEFLATE, SAML bindings §3.4.4.1) is inflated at most
  MAX_MESSAGE bytes: a deflate bomb costs bounded memory and is reported as too large.
The stdlib is enough here (defusedxml does the same DTD refusal on top of expat); it keeps the suite's
dependencies as they are.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit
from xml.parsers import expat

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
PROTOCOL = SAMLP  # what protocolSupportEnumeration must list
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
MAX_MESSAGE = 64 * 1024  # an AuthnRequest is a few KiB: more is refused, whatever it inflates to
MAX_XML = 512 * 1024  # metadata larger than this is not Publik's


class SamlDocumentError(ValueError):
    """What makes a document unreadable, in a few words (shown to the operator)."""


class _Refused(Exception):
    pass


def parse_xml(text: str | bytes) -> ET.Element:
    """The document's root element; SamlDocumentError for malformed XML, a DTD, or an oversized document."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if len(data) > MAX_XML:
        raise SamlDocumentError(f"document of {len(data)} bytes (more than {MAX_XML // 1024} KiB)")
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    builder = ET.TreeBuilder()

    def refuse(*_args: object) -> None:
        raise _Refused("a DTD (SAML documents have none; refused so no entity can be declared)")

    def start(tag: str, attrs: dict[str, str]) -> None:
        builder.start(_clark(tag), {_clark(k): v for k, v in attrs.items()})

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse  # type: ignore[assignment]
    parser.StartElementHandler = start
    parser.EndElementHandler = lambda tag: builder.end(_clark(tag))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise SamlDocumentError(str(exc)) from None
    except expat.ExpatError as exc:
        raise SamlDocumentError(f"not well-formed XML: {expat.errors.messages.get(exc.code, exc)} "
                                f"(line {exc.lineno})") from None
    try:
        return builder.close()
    except AssertionError:  # no element at all
        raise SamlDocumentError("no XML element") from None


def _clark(name: str) -> str:
    """expat's `uri local` as ElementTree's `{uri}local`."""
    uri, _, local = name.rpartition(" ")
    return f"{{{uri}}}{local}" if uri else local


@dataclass(frozen=True)
class Endpoint:
    binding: str
    location: str

    @property
    def host(self) -> str | None:
        return urlsplit(self.location).hostname


@dataclass(frozen=True)
class Certificate:
    """What the judge needs of a certificate (the DER itself is not kept)."""

    subject: str
    not_before: datetime.datetime
    not_after: datetime.datetime


@dataclass(frozen=True)
class Key:
    use: str | None  # "signing", "encryption", or None (both)
    certificate: Certificate | None = None
    bare_key: bool = False  # a ds:KeyValue without certificate (authentic configured with a public key)
    problem: str | None = None  # an X509Certificate that does not parse

    def describe(self) -> str:
        use = self.use or "no use (signing and encryption)"
        if self.certificate is not None:
            c = self.certificate
            return f"key for {use}: certificate {c.subject}, valid {c.not_before:%Y-%m-%d} to {c.not_after:%Y-%m-%d}"
        if self.problem:
            return f"key for {use}: {self.problem}"
        return f"key for {use}: " + ("a bare RSA key, no certificate" if self.bare_key else "no key material")


@dataclass(frozen=True)
class Role:
    """An IDPSSODescriptor or SPSSODescriptor."""

    protocols: tuple[str, ...]
    keys: tuple[Key, ...]
    single_sign_on: tuple[Endpoint, ...] = ()
    assertion_consumers: tuple[Endpoint, ...] = ()
    single_logout: tuple[Endpoint, ...] = ()


@dataclass(frozen=True)
class Metadata:
    entity_id: str
    idp: Role | None
    sp: Role | None

    def describe(self) -> tuple[str, ...]:
        lines = [f"entityID {self.entity_id}"]
        for name, role in (("IDPSSODescriptor", self.idp), ("SPSSODescriptor", self.sp)):
            if role is None:
                continue
            lines.append(f"{name} (protocols: {' '.join(role.protocols) or 'none'})")
            lines += [f"  {k.describe()}" for k in role.keys]
            for label, endpoints in (("SingleSignOnService", role.single_sign_on),
                                     ("AssertionConsumerService", role.assertion_consumers),
                                     ("SingleLogoutService", role.single_logout)):
                lines += [f"  {label} {e.binding.rsplit(':', 1)[-1]} {e.location}" for e in endpoints]
        return tuple(lines)


def read_metadata(text: str) -> Metadata:
    """The facts of a metadata document (an EntityDescriptor; an EntitiesDescriptor is not one service's)."""
    root = parse_xml(text)
    if root.tag != f"{{{MD}}}EntityDescriptor":
        raise SamlDocumentError(f"root element {_shown(root.tag)}, not an md:EntityDescriptor")
    entity_id = root.get("entityID")
    if not entity_id:
        raise SamlDocumentError("EntityDescriptor without entityID")
    return Metadata(entity_id, _role(root.find(f"{{{MD}}}IDPSSODescriptor")),
                    _role(root.find(f"{{{MD}}}SPSSODescriptor")))


def _shown(tag: str) -> str:
    uri, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    return f"{local} (namespace {uri})" if uri else f"{local} (no namespace)"


def _role(element: ET.Element | None) -> Role | None:
    if element is None:
        return None

    def endpoints(name: str) -> tuple[Endpoint, ...]:
        return tuple(Endpoint(e.get("Binding", ""), e.get("Location", "")) for e in element.findall(f"{{{MD}}}{name}"))

    return Role(
        protocols=tuple((element.get("protocolSupportEnumeration") or "").split()),
        keys=tuple(_key(k) for k in element.findall(f"{{{MD}}}KeyDescriptor")),
        single_sign_on=endpoints("SingleSignOnService"),
        assertion_consumers=endpoints("AssertionConsumerService"),
        single_logout=endpoints("SingleLogoutService"),
    )


def _key(element: ET.Element) -> Key:
    use = element.get("use") or None
    encoded = element.findtext(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    if encoded is None:
        return Key(use, bare_key=element.find(f"{{{DS}}}KeyInfo/{{{DS}}}KeyValue") is not None)
    try:
        der = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        return Key(use, problem="X509Certificate is not base64")
    return _certificate(use, der)


def _certificate(use: str | None, der: bytes) -> Key:
    from cryptography import x509  # imported here: only metadata checks need it

    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        return Key(use, problem=f"X509Certificate does not parse ({str(exc)[:80]})")
    return Key(use, Certificate(cert.subject.rfc4514_string()[:200], cert.not_valid_before_utc,
                                cert.not_valid_after_utc))


@dataclass(frozen=True)
class AuthnRequest:
    """The authentication request an SP sent in an HTTP-Redirect (the SSO URL's query)."""

    issuer: str | None
    destination: str | None
    consumer_url: str | None  # AssertionConsumerServiceURL, when the SP names it
    signed: bool  # SigAlg and Signature in the query (the redirect binding's signature)


def redirect_message(url: str, field: str = "SAMLRequest") -> str | None:
    """The raw value of `field` in a URL's query, or None."""
    values = parse_qs(urlsplit(url).query).get(field)
    return values[0] if values else None


def inflate_redirect_message(value: str) -> bytes:
    """base64 then raw DEFLATE (SAML bindings §3.4.4.1), at most MAX_MESSAGE bytes out."""
    if len(value) > 4 * MAX_MESSAGE:
        raise SamlDocumentError(f"message of {len(value)} characters: too long for an authentication request")
    try:
        compressed = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SamlDocumentError("not base64") from None
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        data = inflater.decompress(compressed, MAX_MESSAGE)
    except zlib.error as exc:
        raise SamlDocumentError(f"not raw DEFLATE data ({exc})") from None
    if inflater.unconsumed_tail:
        raise SamlDocumentError(f"inflates to more than {MAX_MESSAGE // 1024} KiB: refused")
    return data


def read_authn_request(url: str) -> AuthnRequest:
    """The AuthnRequest carried by an SSO URL (HTTP-Redirect binding); SamlDocumentError if there is none."""
    value = redirect_message(url)
    if value is None:
        raise SamlDocumentError("no SAMLRequest in the URL")
    root = parse_xml(inflate_redirect_message(value))
    if root.tag != f"{{{SAMLP}}}AuthnRequest":
        raise SamlDocumentError(f"SAMLRequest holds {_shown(root.tag)}, not a samlp:AuthnRequest")
    issuer = root.findtext(f"{{{SAML}}}Issuer")
    query = parse_qs(urlsplit(url).query)
    return AuthnRequest(issuer.strip() if issuer else None, root.get("Destination"),
                        root.get("AssertionConsumerServiceURL"), "SigAlg" in query and "Signature" in query)
