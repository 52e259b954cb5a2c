"""Deployment check: the audit chain's key should not hang on SECRET_KEY."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def audit_key_check(app_configs, **kwargs):
    problems = []
    if not getattr(settings, "AUDIT_CHAIN_KEY", ""):
        problems.append(
            Warning(
                "AUDIT_CHAIN_KEY is not set: the audit chain's key is derived from SECRET_KEY, "
                "so rotating SECRET_KEY would make every keyed entry fail verification.",
                hint="Set AUDIT_CHAIN_KEY to a long random value and keep it out of backups.",
                id="audit.W001",
            )
        )
    if not getattr(settings, "AUDIT_CHECKPOINT_FILE", "") and not getattr(
        settings, "AUDIT_CHECKPOINT_EMAILS", []
    ):
        problems.append(
            Warning(
                "The audit chain has no checkpoints outside the database: deleting its newest "
                "entries would go unnoticed.",
                hint="Set AUDIT_CHECKPOINT_FILE (append-only) and/or AUDIT_CHECKPOINT_EMAILS.",
                id="audit.W002",
            )
        )
    return problems
