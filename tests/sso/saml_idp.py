"""A real SAML 2.0 identity provider on loopback for the sign-in tests: pysaml2's IdP
(``saml2.server.Server``), which signs with xmlsec1, behind a small sign-in page.

It answers allauth's SP-initiated sign-in (HTTP-Redirect in, HTTP-POST back) for the people
in ``ACCOUNTS``. Some logins stand for a provider that got something wrong, so the tests can
show Concord refuses it: ``stale`` answers with an assertion that expired ten minutes ago,
``astray`` with one addressed to another service (audience).
"""

from __future__ import annotations

import datetime
import html
import threading
from pathlib import Path
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

ACCOUNTS = {
    "sam": {"email": "sam@southbank.example.edu", "email_verified": "true", "name": "Sam"},
    "stale": {"email": "sam@southbank.example.edu", "email_verified": "true", "name": "Sam"},
    "astray": {"email": "sam@southbank.example.edu", "email_verified": "true", "name": "Sam"},
}
REFEDS_MFA = "https://refeds.org/profile/mfa"
PASSWORD_CONTEXT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
ELSEWHERE = "https://another-service.example.org/saml/metadata"


def _key_and_certificate(directory: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Southbank test IdP")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = directory / "idp.key", directory / "idp.crt"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def _sp_metadata(entity_id: str, acs_url: str) -> str:
    return f"""<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
 entityID="{entity_id}"><md:SPSSODescriptor WantAssertionsSigned="true"
 protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
 <md:AssertionConsumerService index="1" Location="{acs_url}"
 Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"/></md:SPSSODescriptor>
</md:EntityDescriptor>"""


class SamlIdP:
    def __init__(self, directory: Path, service_providers: dict[str, str]):
        """``service_providers``: each SP's entity id and its assertion consumer URL."""
        self.httpd = make_server("127.0.0.1", 0, self.app, handler_class=_Quiet)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.entity_id = f"{self.url}/metadata"
        self.key_file, self.cert_file = _key_and_certificate(directory)
        sps = {**service_providers, ELSEWHERE: f"{self.url}/nowhere"}
        self.servers = {minutes: Server(config=self._config(sps, minutes)) for minutes in (5, -10)}
        self.pending: dict[str, dict] = {}

    def _config(self, sps: dict[str, str], minutes: int) -> IdPConfig:
        config = IdPConfig()
        config.load(
            {
                "entityid": self.entity_id,
                "key_file": str(self.key_file),
                "cert_file": str(self.cert_file),
                "xmlsec_binary": "/usr/bin/xmlsec1",
                "metadata": {"inline": [_sp_metadata(e, acs) for e, acs in sps.items()]},
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [(f"{self.url}/sso", BINDING_HTTP_REDIRECT)]
                        },
                        "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                        "policy": {
                            "default": {
                                "lifetime": {"minutes": minutes},
                                "name_form": NAME_FORMAT_BASIC,
                                "attribute_restrictions": None,
                            }
                        },
                    }
                },
            }
        )
        return config

    def metadata_xml(self) -> str:
        certificate = "".join(
            line for line in self.cert_file.read_text().splitlines() if not line.startswith("-----")
        )
        return f"""<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
 xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{self.entity_id}">
 <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
 <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>
 <ds:X509Certificate>{certificate}</ds:X509Certificate>
 </ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
 <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
  Location="{self.url}/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"""

    def start(self) -> SamlIdP:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- the IdP's two pages -------------------------------------------------------------

    def app(self, environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/sso":
            return self._ask_who(environ, start_response)
        if path == "/login" and environ["REQUEST_METHOD"] == "POST":
            return self._answer(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    def _ask_who(self, environ, start_response):
        query = {k: v[0] for k, v in parse_qs(environ["QUERY_STRING"]).items()}
        request = self.servers[5].parse_authn_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT)
        key = request.message.id
        self.pending[key] = {
            "id": request.message.id,
            "sp": request.message.issuer.text,
            "acs": request.message.assertion_consumer_service_url,
            "relay_state": query.get("RelayState", ""),
        }
        page = f"""<!doctype html><title>Southbank campus sign-in</title>
<h1>Southbank campus sign-in</h1><form method="post" action="/login">
<input type="hidden" name="key" value="{html.escape(key)}">
<label>Campus login <input name="login"></label>
<label><input type="checkbox" name="mfa"> Also used my security key</label>
<button type="submit">Log in to Southbank</button></form>"""
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [page.encode()]

    def _answer(self, environ, start_response):
        size = int(environ.get("CONTENT_LENGTH") or 0)
        form = {k: v[0] for k, v in parse_qs(environ["wsgi.input"].read(size).decode()).items()}
        pending = self.pending.pop(form["key"])
        login = form["login"]
        person = ACCOUNTS[login]
        server = self.servers[-10 if login == "stale" else 5]
        audience = ELSEWHERE if login == "astray" else pending["sp"]
        response = server.create_authn_response(
            identity={
                "uid": [login],
                "email": [person["email"]],
                "email_verified": [person["email_verified"]],
                "name": [person["name"]],
            },
            in_response_to=pending["id"],
            destination=pending["acs"],
            sp_entity_id=audience,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=person["email"]),
            authn={
                "class_ref": REFEDS_MFA if form.get("mfa") else PASSWORD_CONTEXT,
                "authn_auth": self.entity_id,
            },
            sign_assertion=True,
            sign_response=True,
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
        )
        http_args = server.apply_binding(
            BINDING_HTTP_POST,
            str(response),
            pending["acs"],
            pending["relay_state"],
            response=True,
        )
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [http_args["data"].encode()]


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass
