"""The training plugin's settings, in one place: each is a Django setting of the name given,
else the default below. Read once per process and read again when a setting changes (tests).

==========================  ==============================================  ===================
Django setting              What it does                                    Default
==========================  ==============================================  ===================
TRAINING_BADGE_SIGNING_KEY  the Ed25519 key (PEM, PKCS#8) that signs         none: the key file
                            badges; the same on every machine
TRAINING_BADGE_KEY_FILE     the file holding that key, made (mode 0600)     ``VAR_DIR/keys/
                            on first use when it does not exist             training-badges-
                                                                            ed25519.pem``
==========================  ==============================================  ===================

``portal/settings/base.py`` sets both from the environment; production requires one of them
(``portal/settings/production.py``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings as django_settings
from django.core.signals import setting_changed


@dataclass(frozen=True)
class TrainingSettings:
    badge_signing_key: str
    badge_key_file: Path


@functools.cache
def conf() -> TrainingSettings:
    """The settings as they are now (cached; see the table above)."""
    default_file = Path(django_settings.VAR_DIR) / "keys" / "training-badges-ed25519.pem"
    return TrainingSettings(
        badge_signing_key=getattr(django_settings, "TRAINING_BADGE_SIGNING_KEY", None) or "",
        badge_key_file=Path(getattr(django_settings, "TRAINING_BADGE_KEY_FILE", default_file)),
    )


def _changed(sender, setting, **kwargs):
    if setting.startswith("TRAINING_") or setting == "VAR_DIR":
        conf.cache_clear()


setting_changed.connect(_changed, dispatch_uid="training.conf")
