"""The scheduler: Celery beat runs the entries of settings.CELERY_BEAT_SCHEDULE; each periodic task's last run and
outcome is recorded (`runs`), shown to administrators at /api/v1/schedule/ and checked by /api/health (`status`)."""
