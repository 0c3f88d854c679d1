"""Real SAML documents, written as Publik's own code writes them (see /work/notes/saml-contract.md):

- authentic2's IdP metadata: saml2utils.Saml2Metadata through ElementTree, which writes generated
  prefixes (ns0:, ns1:) rather than md:/ds:, KeyDescriptor with use="signing"/"encryption" or none;
- django-mellon's SP metadata: mellon/templates/mellon/metadata.xml (default namespace, no use on the key,
  an HTTP-Artifact and an HTTP-POST AssertionConsumerService on /accounts/mellon/login/);
- w.c.s.'s SP metadata (written at deploy by lasso: md: prefix), entityID <base>/saml/metadata;
- an AuthnRequest as lasso builds it for the HTTP-Redirect binding, deflated and base64-encoded.
"""

from __future__ import annotations

import base64
import datetime
import zlib
from urllib.parse import urlencode

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

IDP = "connexion.example.test"


def certificate_b64(hostname: str, days_before: int = 1, days_after: int = 365) -> str:
    """A self-signed certificate (base64 DER, as in X509Certificate), valid around now by default."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=days_before))
            .not_valid_after(now + datetime.timedelta(days=days_after))
            .sign(key, hashes.SHA256()))
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def idp_metadata(host: str = IDP, cert: str | None = None, sso_host: str | None = None,
                 use: str | None = "signing", key_xml: str | None = None) -> str:
    """authentic2's /idp/saml2/metadata, prefixes as ElementTree generates them."""
    base = f"https://{sso_host or host}/idp/saml2"
    use_attr = f' use="{use}"' if use else ""
    key = key_xml if key_xml is not None else (
        f'<ns0:KeyDescriptor{use_attr}><ns1:KeyInfo><ns1:X509Data><ns1:X509Certificate>'
        f'{cert if cert is not None else certificate_b64(host)}</ns1:X509Certificate></ns1:X509Data></ns1:KeyInfo>'
        '</ns0:KeyDescriptor>')
    return f"""<?xml version="1.0"?>
<ns0:EntityDescriptor xmlns:ns0="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ns1="http://www.w3.org/2000/09/xmldsig#" entityID="https://{host}/idp/saml2/metadata"><ns0:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{key}<ns0:ArtifactResolutionService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="{base}/artifact" index="0" /><ns0:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{base}/slo" ResponseLocation="{base}/slo_return" /><ns0:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{base}/slo" ResponseLocation="{base}/slo_return" /><ns0:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:SOAP" Location="{base}/slo/soap" /><ns0:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{base}/sso" /><ns0:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{base}/sso" /></ns0:IDPSSODescriptor></ns0:EntityDescriptor>"""  # noqa: E501


def mellon_metadata(host: str, entity_host: str | None = None, acs_host: str | None = None) -> str:
    """django-mellon's /accounts/mellon/metadata/ (its metadata.xml template, default binding post)."""
    entity = f"https://{entity_host or host}/accounts/mellon/metadata/"
    login = f"https://{acs_host or host}/accounts/mellon/login/"
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<EntityDescriptor
 entityID="{entity}"
 xmlns="urn:oasis:names:tc:SAML:2.0:metadata">
 <SPSSODescriptor
   AuthnRequestsSigned="true"
   WantAssertionsSigned="true"
   protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
       <KeyDescriptor>
           <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
               <ds:X509Data>
                   <ds:X509Certificate>{certificate_b64(host)}</ds:X509Certificate>
               </ds:X509Data>
           </ds:KeyInfo>
       </KeyDescriptor>
   <SingleLogoutService
     Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
     Location="https://{host}/accounts/mellon/logout/" />
       <NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</NameIDFormat>
   <AssertionConsumerService
     index="0"
     Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"
     Location="{login}" />
   <AssertionConsumerService
     index="1"
     isDefault="true"
     Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
     Location="{login}" />
 </SPSSODescriptor>
</EntityDescriptor>
"""


def wcs_metadata(host: str) -> str:
    """w.c.s.'s /saml/metadata (lasso's md: prefix), entityID <base_url>/saml/metadata."""
    base = f"https://{host}/saml"
    return f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#"
    entityID="{base}/metadata">
  <md:SPSSODescriptor AuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate_b64(host)}
    </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
      Location="{base}/singleLogout" ResponseLocation="{base}/singleLogoutReturn"/>
    <md:AssertionConsumerService isDefault="true" index="0"
      Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" Location="{base}/assertionConsumerArtifact"/>
    <md:AssertionConsumerService index="1"
      Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{base}/assertionConsumerPost"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"""


def authn_request(issuer: str, destination: str = f"https://{IDP}/idp/saml2/sso") -> str:
    """An AuthnRequest as lasso writes it for the HTTP-Redirect binding (before deflate)."""
    return (f'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
            f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_5D2E0F6A1B" Version="2.0" '
            f'IssueInstant="2026-11-30T12:00:00Z" Destination="{destination}" Consent="urn:oasis:names:tc:SAML:2.0:'
            f'consent:current-implicit"><saml:Issuer>{issuer}</saml:Issuer><samlp:NameIDPolicy '
            'Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" AllowCreate="true"/>'
            '</samlp:AuthnRequest>')


def deflated(xml: str | bytes) -> str:
    """base64(raw DEFLATE(xml)): the SAMLRequest of the redirect binding."""
    data = xml.encode() if isinstance(xml, str) else xml
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return base64.b64encode(compressor.compress(data) + compressor.flush()).decode()


def sso_url(issuer: str, idp: str = IDP, signed: bool = True) -> str:
    query = {"SAMLRequest": deflated(authn_request(issuer, f"https://{idp}/idp/saml2/sso")), "RelayState": "3f1c"}
    if signed:
        query |= {"SigAlg": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "Signature": "c2lnbmF0dXJl"}
    return f"https://{idp}/idp/saml2/sso?{urlencode(query)}"
