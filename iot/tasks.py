"""The MQTT consumer and the SensorThings MQTT bridge as Celery tasks: each one at a time (a Redis lock),
restarted by Celery when it fails."""

import redis
from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from .harvest.sources import sources
from .mqtt import Consumer

LOCK = "civgis:iot:mqtt-consumer"
BRIDGE_LOCK = "civgis:iot:sta-bridge"
LEASE_S = 60


def _run_locked(task, lock_name: str, make, seconds: float | None) -> int:
    """Run `make()`'s loop until `seconds` pass (None: until the worker stops), holding the lock while it runs;
    answers what its `run` counted (0 when another worker holds the lock)."""
    lock = redis.Redis.from_url(settings.REDIS_URL).lock(lock_name, timeout=LEASE_S)
    if not lock.acquire(blocking=False):
        return 0  # another worker runs it already
    runner, counted = None, 0
    try:
        runner = make()
        remaining = seconds
        while remaining is None or remaining > 0:
            step = LEASE_S / 3 if remaining is None else min(LEASE_S / 3, remaining)
            counted = runner.run(step)
            lock.extend(LEASE_S, replace_ttl=True)  # still alive: keep the lock
            remaining = None if remaining is None else remaining - step
        return counted
    except (ConnectionError, OSError) as exc:
        # Celery runs it again shortly; the broker keeps QoS 1 messages for the persistent session meanwhile
        raise task.retry(exc=exc, countdown=5) from exc
    finally:
        if runner is not None:
            runner.close()
        lock.release()


@shared_task(name="iot.mqtt_consumer", bind=True, acks_late=True, max_retries=None)
def mqtt_consumer(self, seconds: float | None = None) -> int:
    """Readings from civgis/sensors/<id>/observations; answers the messages handled."""
    return _run_locked(self, LOCK, Consumer, seconds)


@shared_task(name="iot.sta_mqtt_bridge", bind=True, acks_late=True, max_retries=None)
def sta_mqtt_bridge(self, seconds: float | None = None) -> int:
    """SensorThings over MQTT (iot.sta.mqtt); answers the observations published."""
    from .sta.mqtt import Bridge

    return _run_locked(self, BRIDGE_LOCK, Bridge, seconds)


def harvest_task(name: str):
    """The periodic task harvesting the configured SensorThings source `name` (iot.harvest), one per source so that
    each has its own run, outcome and message in the schedule; registered for every configured source when this
    module loads (workers and beat both read the same settings)."""
    if name in _harvest_tasks:
        return _harvest_tasks[name]

    def run() -> str:
        from .harvest.harvester import harvest
        from .harvest.sources import by_name

        return harvest(by_name(name))

    run.__doc__ = f"Harvest the remote SensorThings service {name} (STA_HARVEST_SOURCES)"
    _harvest_tasks[name] = shared_task(name=f"iot.harvest_sta.{name}", acks_late=False)(run)
    return _harvest_tasks[name]


_harvest_tasks: dict = {}


for _source in sources(settings.STA_HARVEST_SOURCES):
    harvest_task(_source.name)


@worker_ready.connect
def _start_consumer(**_kwargs):
    if settings.IOT_MQTT_CONSUMER and settings.MQTT_URL:
        mqtt_consumer.delay()
    if settings.STA_MQTT_BRIDGE and settings.MQTT_URL:
        sta_mqtt_bridge.delay()
