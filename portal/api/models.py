from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ApiToken(models.Model):
    """A member library's key to the integration API (its ILS, its website).

    Only a SHA-256 digest of the secret is stored: the token is shown once, when issued.
    The secret has 256 bits of randomness, so a fast hash is enough (no password hashing).
    """

    class Scope(models.TextChoices):
        # The core's own scope. Plugins add theirs as PluginMeta.api_scopes
        # ({"patrons:sync": label, ...}), so the core names no plugin.
        LIBRARY_READ = "library:read", _("Read the library's own details")

    library = models.ForeignKey(
        "members.MemberLibrary", on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100, help_text=_("What uses it, e.g. “Koha”."))
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self):
        # Also the rate limiter's key: one budget per token.
        return f"api-token:{self.pk}"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
