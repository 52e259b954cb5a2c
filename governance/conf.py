"""Committee voting's settings, read here and nowhere else in the plugin. Each is a Django
setting of the name given, else the default below. Read when needed, not cached: a
ballot, an opening or a close reads them once, and a test's changed setting is seen at
once.

=====================  ================================================  ======================
Setting                What it does                                      Default
=====================  ================================================  ======================
BALLOT_SEALING_KEY     seals each secret proposal's private ballot key   the environment's
                       (Fernet, the key stretched by HKDF); never in     ``BALLOT_SEALING_KEY``,
                       the database, the same on every machine, needed   else ``SECRET_KEY``
                       at the close (docs/ballot-secrecy.md)             (``check --deploy``
                                                                         warns)
BALLOT_KEY_BITS        size in bits of a secret proposal's Paillier key  2048
=====================  ================================================  ======================

The links in the plugin's emails start with the site's own ``WAGTAILADMIN_BASE_URL``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from django.conf import settings

KEY_BITS = 2048


@dataclass(frozen=True)
class GovernanceSettings:
    # Keys are left out of the repr, so a logged settings object shows none of them.
    sealing_key: str = field(default="", repr=False)
    key_bits: int = KEY_BITS
    secret_key: str = field(default="", repr=False)

    @property
    def sealing_material(self) -> str:
        """What seals the private ballot keys: BALLOT_SEALING_KEY, else SECRET_KEY."""
        return self.sealing_key or self.secret_key


def conf() -> GovernanceSettings:
    """The settings as they are now (see the table above)."""
    return GovernanceSettings(
        sealing_key=getattr(settings, "BALLOT_SEALING_KEY", "")
        or os.environ.get("BALLOT_SEALING_KEY", ""),
        key_bits=int(getattr(settings, "BALLOT_KEY_BITS", KEY_BITS)),
        secret_key=settings.SECRET_KEY,
    )
