"""Deployment check: the key that seals secret ballots' private keys should be its own."""

from django.core.checks import Tags, Warning, register

from .conf import conf


@register(Tags.security, deploy=True)
def ballot_sealing_key_check(app_configs, **kwargs):
    if conf().sealing_key:
        return []
    return [
        Warning(
            "BALLOT_SEALING_KEY is not set: secret ballots' private keys are sealed under a key "
            "derived from SECRET_KEY, so rotating SECRET_KEY during a vote would leave its "
            "secret ballots uncountable.",
            hint="Set BALLOT_SEALING_KEY to a long random value, the same on every machine, "
            "and keep it out of the database's backups.",
            id="governance.W001",
        )
    ]
