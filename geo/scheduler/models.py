from django.db import models


class PeriodicTaskRun(models.Model):
    """The last run of one periodic task (a row per task of CELERY_BEAT_SCHEDULE), written by geo.scheduler.runs."""

    class Outcome(models.TextChoices):
        RUNNING = "running"
        OK = "ok"
        FAILED = "failed"

    task = models.CharField(max_length=200, unique=True, help_text="the Celery task's name")
    scheduled_since = models.DateTimeField(null=True, help_text="when beat first scheduled it (the reference for "
                                                                 "a task that has never succeeded)")
    started = models.DateTimeField(null=True)
    finished = models.DateTimeField(null=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    message = models.TextField(blank=True, help_text="what the task returned, or its error")
    duration_s = models.FloatField(null=True)
    last_ok = models.DateTimeField(null=True, help_text="when it last finished without error")

    def __str__(self):
        return f"{self.task}: {self.outcome or 'never run'}"
