"""The MQTT consumer as a Celery task: one at a time (a Redis lock), restarted by Celery when it fails."""

import redis
from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from .mqtt import Consumer

LOCK = "civgis:iot:mqtt-consumer"
LEASE_S = 60


@shared_task(name="iot.mqtt_consumer", bind=True, acks_late=True, max_retries=None)
def mqtt_consumer(self, seconds: float | None = None) -> int:
    """Consume until `seconds` pass (None: until the worker stops), holding the lock while it runs."""
    lock = redis.Redis.from_url(settings.REDIS_URL).lock(LOCK, timeout=LEASE_S)
    if not lock.acquire(blocking=False):
        return 0  # another worker consumes already
    consumer = None
    try:
        consumer = Consumer()
        remaining = seconds
        while remaining is None or remaining > 0:
            step = LEASE_S / 3 if remaining is None else min(LEASE_S / 3, remaining)
            consumer.run(step)
            lock.extend(LEASE_S, replace_ttl=True)  # still alive: keep the lock
            remaining = None if remaining is None else remaining - step
        return consumer.messages
    except (ConnectionError, OSError) as exc:
        # Celery runs it again shortly; the broker keeps QoS 1 messages for the persistent session meanwhile
        raise self.retry(exc=exc, countdown=5) from exc
    finally:
        if consumer is not None:
            consumer.close()
        lock.release()


@worker_ready.connect
def _start_consumer(**_kwargs):
    if settings.IOT_MQTT_CONSUMER and settings.MQTT_URL:
        mqtt_consumer.delay()
