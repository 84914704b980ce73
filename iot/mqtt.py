"""The MQTT consumer: readings published to civgis/sensors/<device_id>/observations as JSON
{"token": "…", "observations": [ … ]} go through the same ingestion as the HTTP endpoint.

The device in the topic must be the token's device. The client's network loop runs in the calling thread, so
database work happens where Django expects it. QoS 1 with a persistent session: the broker keeps what arrives
while the consumer is restarting.

Messages that arrive together are stored together: they are held (up to FLUSH_READINGS readings or FLUSH_SECONDS)
and then their tokens are looked up in one query and their readings stored by one statement (ingest_many). A
message is acknowledged to the broker only after its readings are committed (manual acks), so a consumer that
stops with messages held loses none: the broker delivers them again.
"""

import json
import logging
import time
import urllib.parse

import paho.mqtt.client as paho
from django.conf import settings
from django.db import close_old_connections, connection

from .ingest import UNKNOWN_DEVICE, count_rejects, ingest_many
from .models import Device
from .tokens import digest

log = logging.getLogger(__name__)
TOPIC = "civgis/sensors/+/observations"
FLUSH_READINGS = 5_000  # store what is held once this many readings wait …
FLUSH_SECONDS = 0.05  # … or the oldest has waited this long, or the network loop found nothing more


class Consumer:
    def __init__(self, url: str | None = None, client_id: str = "civgis-ingest"):
        parts = urllib.parse.urlsplit(url or settings.MQTT_URL)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise ValueError(f"MQTT_URL {url or settings.MQTT_URL!r}: give mqtt://host:port")
        self.messages = 0
        self.held: list[tuple[object, str | None, dict]] = []  # (message, device in the topic, body)
        self.held_readings, self.held_since = 0, 0.0
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                                  manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect(parts.hostname, parts.port or 1883, keepalive=30)

    def _on_connect(self, client, _userdata, _flags, reason, _props):
        if reason.is_failure:
            raise ConnectionError(f"MQTT broker refused the connection: {reason}")
        client.subscribe(TOPIC, qos=1)

    def _on_message(self, client, _userdata, message):
        self.messages += 1
        topic_device = message.topic.split("/")[2] if message.topic.count("/") == 3 else None
        try:
            body = json.loads(message.payload)
        except (ValueError, UnicodeDecodeError):
            count_rejects("mqtt", {"malformed: payload is not JSON": 1})
            client.ack(message.mid, message.qos)
            return
        if not isinstance(body, dict):
            count_rejects("mqtt", {"malformed: payload is not an object": 1})
            client.ack(message.mid, message.qos)
            return
        if not self.held:
            self.held_since = time.monotonic()
        self.held.append((message, topic_device, body))
        items = body.get("observations")
        self.held_readings += len(items) if isinstance(items, list) else 1
        if self.held_readings >= FLUSH_READINGS:
            self.flush()

    def flush(self) -> None:
        """Store the held messages' readings (one token query, one statement), then acknowledge them."""
        held, self.held, self.held_readings = self.held, [], 0
        if not held:
            return
        tokens = {digest(str(body["token"])) for _m, _d, body in held if body.get("token")}
        devices = {d.token_hash: d for d in Device.objects.filter(token_hash__in=tokens, active=True)}
        batches, unknown = [], 0
        for _message, topic_device, body in held:
            device = devices.get(digest(str(body["token"]))) if body.get("token") else None
            items = body.get("observations")
            if device is None or device.device_id != topic_device:
                unknown += len(items) if isinstance(items, list) else 1
            else:
                batches.append((device, items))
        if unknown:
            count_rejects("mqtt", {UNKNOWN_DEVICE: unknown})
        if batches:
            ingest_many(batches, "mqtt")
        for message, _d, _b in held:
            self.client.ack(message.mid, message.qos)

    def run(self, seconds: float | None = None, stop=None) -> int:
        """Process messages until `seconds` have passed or `stop` (an Event) is set; returns messages handled."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while not (stop is not None and stop.is_set()) and (deadline is None or time.monotonic() < deadline):
            if not connection.in_atomic_block:  # a long-running consumer must not keep a broken connection
                close_old_connections()
            before = self.messages
            code = self.client.loop(timeout=FLUSH_SECONDS if self.held else 0.2)
            if code != paho.MQTT_ERR_SUCCESS:
                raise ConnectionError(f"MQTT connection lost ({paho.error_string(code)})")
            if self.held and (self.messages == before or time.monotonic() - self.held_since >= FLUSH_SECONDS):
                self.flush()
        self.flush()
        return self.messages

    def close(self) -> None:
        self.client.disconnect()
