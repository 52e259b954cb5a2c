"""The core's own tables (the rest of the core lives in its sub-apps)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TaskProblem(models.Model):
    """A background task that failed for one thing (a notice, an import, a digest), kept
    until the same task next succeeds for it, so the page of that thing can say so.

    ``subject`` names the thing as ``"<label>:<id>"`` (see ``portal.background``)."""

    subject = models.CharField(max_length=120)
    task_name = models.CharField(max_length=200)
    message = models.TextField()
    first_at = models.DateTimeField(default=timezone.now)
    last_at = models.DateTimeField(default=timezone.now)
    failures = models.PositiveIntegerField(default=1)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("background task problem")
        indexes = [models.Index(fields=["subject", "resolved_at"], name="taskproblem_open")]

    def __str__(self):
        return f"{self.task_name} for {self.subject}: {self.message[:60]}"
