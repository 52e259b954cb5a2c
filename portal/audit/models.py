import hashlib
import json

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

GENESIS = "0" * 64


class AuditEntry(models.Model):
    """One event. Each row's hash covers its content and the previous row's hash, so
    editing or deleting any row breaks every link after it."""

    created_at = models.DateTimeField(_("when"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept beside the foreign key so the record survives the person's deletion.
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(_("action"), max_length=100, db_index=True)
    # No database constraint and nothing done on delete: the id is part of the hashed
    # content, so removing a library must not rewrite the entries that name it.
    library = models.ForeignKey(
        "members.MemberLibrary",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self):
        return f"#{self.pk} {self.action}"

    def content(self) -> dict:
        return {
            "created_at": self.created_at.isoformat(),
            "actor": self.actor_label,
            "action": self.action,
            "library": self.library_id,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "data": self.data,
        }

    def compute_hash(self) -> str:
        payload = json.dumps(
            self.content(), sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder
        )
        return hashlib.sha256((self.prev_hash + payload).encode()).hexdigest()

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit entries are append-only.")
