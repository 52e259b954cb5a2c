"""Connect one demo library to an OpenID Connect provider on loopback, and run it.

For trying single sign-on on ``bin/demo``: the provider is panva's oidc-provider from
tests/node (installed by ``bin/test``, or ``npm ci`` there), and it signs in any address at
the library's demo domain. Never for a real deployment: its sign-in page takes any password.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.members.models import MemberLibrary
from portal.sso.models import IdentityProvider
from portal.sso.services import do_save_provider

NODE_DIR = Path(settings.BASE_DIR) / "tests" / "node"


class Command(BaseCommand):
    help = "Connect a demo library to a loopback OpenID Connect provider and run it."

    def add_arguments(self, parser):
        parser.add_argument("--library", help="library code (default: the first branch)")
        parser.add_argument("--port", type=int, default=9010)

    def handle(self, *args, library=None, port=9010, **options):
        if not (NODE_DIR / "node_modules" / "oidc-provider").exists():
            raise CommandError(f"Install the provider first: (cd {NODE_DIR} && npm ci)")
        found = MemberLibrary.objects.filter(
            **({"code": library} if library else {"kind": MemberLibrary.Kind.BRANCH})
        ).first()
        if found is None:
            raise CommandError("No such library: run bin/demo (or seed_demo) first.")
        domain = f"{found.code}.example.edu"
        issuer = f"http://127.0.0.1:{port}"
        provider = IdentityProvider.objects.filter(library=found).first() or IdentityProvider(
            library=found
        )
        provider.name = f"{found.name} sign-in (demo)"
        provider.protocol = IdentityProvider.Protocol.OIDC
        provider.email_domains = domain
        provider.issuer = issuer
        provider.client_id = "concord-demo"
        provider.client_secret = "concord-demo-secret"  # noqa: S105 - a loopback demo
        do_save_provider(None, provider)

        path = f"/accounts/oidc/{provider.provider_id}/login/callback/"
        base = settings.WAGTAILADMIN_BASE_URL.rstrip("/")
        hosts = {base, base.replace("127.0.0.1", "localhost")}
        config = {
            "port": port,
            "domain": domain,
            "accounts": {},
            "clients": [
                {
                    "client_id": provider.client_id,
                    "client_secret": provider.client_secret,
                    "redirect_uris": sorted(host + path for host in hosts),
                }
            ],
        }
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
            json.dump(config, file)
        self.stdout.write(
            f"{found.name} now signs in addresses @{domain} through {issuer}.\n"
            f"Invite someone @{domain} to {found.name} (as the office), then sign in with "
            "that address: the provider's page takes any password. Ctrl-C stops it."
        )
        try:
            subprocess.run(["node", "oidc_provider.mjs", file.name], cwd=NODE_DIR, check=False)  # noqa: S603, S607
        except KeyboardInterrupt:
            pass
        finally:
            Path(file.name).unlink(missing_ok=True)
