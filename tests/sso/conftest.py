"""One real OpenID Connect provider per test run (tests/node/oidc_provider.mjs), started
on loopback when a test first asks for it and shared by every sign-in test after that."""

import json
import socket
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import page, wagtail_site  # noqa: F401 - the live-server journeys' own

NODE_DIR = Path(__file__).resolve().parent.parent / "node"
# Each library's client at the provider: allauth's provider id is "library-<code>".
CLIENTS = {"northfield": "northfield-secret", "eastbrook": "eastbrook-secret"}
# People the provider knows, by the login typed on its own sign-in page.
ACCOUNTS = {
    "dana": {"email": "dana@northfield.example.edu", "email_verified": True, "name": "Dana"},
    "una": {"email": "una@northfield.example.edu", "email_verified": False, "name": "Una"},
    "otto": {"email": "otto@eastbrook.example.org", "email_verified": True, "name": "Otto"},
    "nell": {"email": "nell@northfield.example.edu", "email_verified": True, "name": "Nell"},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def oidc_provider(live_server, tmp_path_factory):
    port = free_port()
    config = {
        "port": port,
        "clients": [
            {
                "client_id": f"concord-{code}",
                "client_secret": secret,
                "redirect_uris": [
                    f"{live_server.url}/accounts/oidc/library-{code}/login/callback/"
                ],
            }
            for code, secret in CLIENTS.items()
        ],
        "accounts": ACCOUNTS,
    }
    path = tmp_path_factory.mktemp("oidc") / "config.json"
    path.write_text(json.dumps(config))
    process = subprocess.Popen(
        ["node", str(NODE_DIR / "oidc_provider.mjs"), str(path)],
        cwd=NODE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    said = []
    for line in process.stdout:  # its warnings first, then the issuer once it listens
        said.append(line)
        if line.startswith("issuer "):
            break
    else:
        pytest.fail("the OpenID Connect provider did not start: " + "".join(said))
    yield line.split()[1]
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def saml_idp(live_server, tmp_path_factory):
    """pysaml2's identity provider for the library "southbank" (tests/sso/saml_idp.py)."""
    from .saml_idp import SamlIdP

    base = f"{live_server.url}/accounts/saml/library-southbank"
    idp = SamlIdP(tmp_path_factory.mktemp("saml"), {f"{base}/metadata/": f"{base}/acs/"})
    yield idp.start()
    idp.stop()
