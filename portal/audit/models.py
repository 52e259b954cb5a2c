from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from . import chain
from .chain import GENESIS  # noqa: F401  (re-exported: the chain's first "previous hash")


class AuditEntry(models.Model):
    """One event. Each row's hash is a keyed hash (see ``chain``) of every stored field and
    the previous row's hash, so editing, deleting or re-chaining rows breaks a link;
    checkpoints of the head kept outside the database (``anchor``) catch the deletion of
    the newest rows."""

    created_at = models.DateTimeField(_("when"), db_index=True)
    # No database constraint and nothing done on delete: the id is part of the hashed
    # content, so removing a person must not rewrite the entries that name them.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # Kept beside the foreign key so the record says who it was after the person is gone.
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(_("action"), max_length=100, db_index=True)
    # Likewise: removing a library must not rewrite the entries that name it.
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
    # 1: written before the chain was keyed (plain SHA-256); 2: keyed (HMAC-SHA256).
    version = models.PositiveSmallIntegerField(default=chain.KEYED)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self):
        return f"#{self.pk} {self.action}"

    def stored_fields(self) -> dict:
        return chain.stored_fields(
            id=self.pk,
            created_at=self.created_at,
            actor_id=self.actor_id,
            actor_label=self.actor_label,
            action=self.action,
            library_id=self.library_id,
            object_type=self.object_type,
            object_id=self.object_id,
            data=self.data,
            version=self.version,
        )

    def compute_hash(self) -> str:
        return chain.seal(self.prev_hash, self.stored_fields())

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Audit entries are append-only.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit entries are append-only.")
