"""The MQTT consumer: readings published to civgis/sensors/<device_id>/observations as JSON
{"token": "…", "observations": [ … ]} go through the same ingestion as the HTTP endpoint.

The device in the topic must be the token's device. The client's network loop runs in the calling thread, so
database work happens where Django expects it. QoS 1 with a persistent session: the broker keeps what arrives
while the consumer is restarting.
"""

import json
import logging
import time
import urllib.parse

import paho.mqtt.client as paho
from django.conf import settings
from django.db import close_old_connections, connection

from .ingest import UNKNOWN_DEVICE, count_rejects, device_for, ingest

log = logging.getLogger(__name__)
TOPIC = "civgis/sensors/+/observations"


class Consumer:
    def __init__(self, url: str | None = None, client_id: str = "civgis-ingest"):
        parts = urllib.parse.urlsplit(url or settings.MQTT_URL)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise ValueError(f"MQTT_URL {url or settings.MQTT_URL!r}: give mqtt://host:port")
        self.messages = 0
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect(parts.hostname, parts.port or 1883, keepalive=30)

    def _on_connect(self, client, _userdata, _flags, reason, _props):
        if reason.is_failure:
            raise ConnectionError(f"MQTT broker refused the connection: {reason}")
        client.subscribe(TOPIC, qos=1)

    def _on_message(self, _client, _userdata, message):
        self.messages += 1
        topic_device = message.topic.split("/")[2] if message.topic.count("/") == 3 else None
        try:
            body = json.loads(message.payload)
        except (ValueError, UnicodeDecodeError):
            count_rejects("mqtt", {"malformed: payload is not JSON": 1})
            return
        if not isinstance(body, dict):
            count_rejects("mqtt", {"malformed: payload is not an object": 1})
            return
        device = device_for(body.get("token"))
        items = body.get("observations")
        n = len(items) if isinstance(items, list) else 1
        if device is None or device.device_id != topic_device:
            count_rejects("mqtt", {UNKNOWN_DEVICE: n})
            return
        ingest(device, items, "mqtt")

    def run(self, seconds: float | None = None, stop=None) -> int:
        """Process messages until `seconds` have passed or `stop` (an Event) is set; returns messages handled."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while not (stop is not None and stop.is_set()) and (deadline is None or time.monotonic() < deadline):
            if not connection.in_atomic_block:  # a long-running consumer must not keep a broken connection
                close_old_connections()
            code = self.client.loop(timeout=0.2)
            if code != paho.MQTT_ERR_SUCCESS:
                raise ConnectionError(f"MQTT connection lost ({paho.error_string(code)})")
        return self.messages

    def close(self) -> None:
        self.client.disconnect()
