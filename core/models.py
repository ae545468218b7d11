"""Core's own rows: the set-aside list of rows a claimed-work loop could not handle (core.setaside)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class SetAsideState(models.TextChoices):
    SET_ASIDE = "set_aside", "Set aside"
    RETRIED = "retried", "Retried"
    DISCARDED = "discarded", "Discarded"


class SetAside(models.Model):
    """One row of a work queue that failed on its own, taken out of the queue so the rows behind it
    go on. What is kept is the error (class, message, a short traceback) and the row's id: no row
    contents, so nothing personal beyond the id lands here."""

    queue = models.CharField(max_length=40)  # a registered queue name: "events", "outbox", …
    model = models.CharField(max_length=100)  # app_label.ModelName of the row
    row_id = models.BigIntegerField()
    state = models.CharField(max_length=16, choices=SetAsideState.choices, default=SetAsideState.SET_ASIDE)
    error_class = models.CharField(max_length=200)
    error_message = models.TextField(blank=True, default="")
    traceback = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=1)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)  # retried or discarded
    resolved_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        verbose_name = "set-aside row"
        verbose_name_plural = "set-aside rows"
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["queue", "model", "row_id"], name="setaside_unique_row"),
        ]
        indexes = [
            # The health figures count the rows still set aside, per queue.
            models.Index(fields=["queue"], condition=Q(state="set_aside"), name="setaside_open_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.model.split('.')[-1]} #{self.row_id} ({self.queue})"
