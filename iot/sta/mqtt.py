"""The SensorThings MQTT extension, through the platform's broker (settings.MQTT_URL), both ways:

- out: every new observation, whatever path wrote it (HTTP, MQTT, SensorThings POST, a bulk load), is published
  as its SensorThings JSON to `v1.1/Datastreams(id)/Observations` (and `v1.0/…`, and `v1.1/Observations`).
  The database announces each INSERT on the channel sta_observations (migration iot 0004); the bridge LISTENs,
  reads the new rows and publishes them. The broker knows no users: only observations of devices anyone may see
  (public registry layers, devices without a layer) go out.
- in: an Observation published to `v1.1/Datastreams(id)/Observations` is created as if POSTed there (the messages
  that arrive in one turn of the network loop are written together, each checked as if alone). The broker
  is the platform's private one and knows no users, so — as on civgis/sensors/<id>/observations (iot.mqtt) — the
  device proves itself with its token in the message: {"phenomenonTime": …, "result": …, "token": "…"}.
  What is refused is counted among the rejects (source "sta-mqtt").
MQTT 5 with No Local: the bridge does not receive what it publishes itself.
"""

import json
import logging
import re
import select
import time
import urllib.parse

import paho.mqtt.client as paho
import psycopg2
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import close_old_connections, connection
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from psycopg2 import sql

from layers.models import Layer

from ..ingest import UNKNOWN_DEVICE, count_rejects
from .entities import SETS
from .errors import StaError
from .query import Options, Reader, Restriction
from .write import Rejected, Writer

log = logging.getLogger(__name__)
CHANNEL = "sta_observations"
SOURCE = "sta-mqtt"
VERSIONS = ("v1.1", "v1.0")
TOPIC = re.compile(r"^(v1\.[01])/Datastreams\((\d+)\)/Observations$")


def database_dsn() -> dict:
    db = settings.DATABASES["default"]
    return {k: v for k, v in {"dbname": db["NAME"], "user": db.get("USER"), "password": db.get("PASSWORD"),
                              "host": db.get("HOST"), "port": db.get("PORT")}.items() if v}


class Bridge:
    def __init__(self, url: str | None = None, client_id: str = "civgis-sta"):
        parts = urllib.parse.urlsplit(url or settings.MQTT_URL)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise ValueError(f"MQTT_URL {url or settings.MQTT_URL!r}: give mqtt://host:port")
        self.published = self.received = 0
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=paho.MQTTv5, manual_ack=True)
        self.held: list[tuple[object, str, dict]] = []  # (message, Datastream id in the topic, body)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.listener = psycopg2.connect(**database_dsn())
        self.listener.autocommit = True
        with self.listener.cursor() as cur:
            cur.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
        connect = Properties(PacketTypes.CONNECT)
        connect.SessionExpiryInterval = 3600  # the broker keeps what devices publish while the bridge restarts
        self.client.connect(parts.hostname, parts.port or 1883, keepalive=30, clean_start=False,
                            properties=connect)
        self._public: tuple[float, list[int]] = (0.0, [])

    def _on_connect(self, client, _userdata, _flags, reason, _props):
        if reason.is_failure:
            raise ConnectionError(f"MQTT broker refused the connection: {reason}")
        client.subscribe([(f"{v}/+/Observations", SubscribeOptions(qos=1, noLocal=True)) for v in VERSIONS])

    # -- in ---------------------------------------------------------------------------------------------------
    def _on_message(self, client, _userdata, message):
        m = TOPIC.match(message.topic)
        if not m:
            client.ack(message.mid, message.qos)
            return  # v1.1/Observations and the like: read-only topics
        self.received += 1
        try:
            body = json.loads(message.payload)
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            count_rejects(SOURCE, {"malformed: payload is not JSON" if body is None
                                   else "malformed: payload is not an object": 1})
            client.ack(message.mid, message.qos)
            return
        self.held.append((message, m[2], body))

    def flush(self) -> None:
        """Create the held Observations — those of one device token together, by one statement (Writer.observations)
        — then acknowledge their messages (manual acks: a bridge that stops with messages held loses none, the
        broker delivers them again)."""
        held, self.held = self.held, []
        by_token: dict[str | None, list] = {}
        for _message, datastream, body in held:
            token = body.pop("token", None)
            by_token.setdefault(token if isinstance(token, str) else None, []).append((datastream, body))
        reasons: dict[str, int] = {}
        for token, posts in by_token.items():
            for found in Writer(None, token, []).observations(posts):
                if isinstance(found, StaError) and not isinstance(found, Rejected):  # Rejected: counted by ingestion
                    reason = UNKNOWN_DEVICE if found.status in (403, 404) else f"malformed: {found.message}"[:60]
                    reasons[reason] = reasons.get(reason, 0) + 1
        if reasons:
            count_rejects(SOURCE, reasons)
        for message, _d, _b in held:
            self.client.ack(message.mid, message.qos)

    # -- out --------------------------------------------------------------------------------------------------
    def public_layers(self) -> list[int]:
        stamp, layers = self._public
        if time.monotonic() - stamp > 10:  # visibility changes rarely; read it again every 10 s
            layers = list(Layer.objects.visible_to(AnonymousUser()).values_list("pk", flat=True))
            self._public = (time.monotonic(), layers)
        return layers

    def forward(self, payload: str) -> int:
        """Publish the observations one announcement names; returns how many."""
        try:
            device, quantity, t0, t1, r0, r1 = json.loads(payload)
        except (ValueError, TypeError):
            log.warning("sta bridge: unreadable announcement %r", payload[:200])
            return 0
        with connection.cursor() as cur:
            cur.execute("SELECT id FROM iot_datastream WHERE device_id = %s AND quantity_id = %s", [device, quantity])
            found = cur.fetchone()
        if found is None:
            return 0
        datastream = found[0]
        es = SETS["Observations"]
        reader = Reader(f"{settings.STA_PUBLIC_URL}/sta/v1.1", self.public_layers())
        span = Restriction(lambda a: sql.SQL("{} = %s AND {} BETWEEN %s AND %s AND {} BETWEEN %s AND %s").format(
            sql.Identifier(a, "_datastream"), sql.Identifier(a, "phenomenonTime"), sql.Identifier(a, "_received")),
            [datastream, t0, t1, r0, r1])
        rows = reader.rows(es, span, Options())
        for row in rows:
            entity = json.dumps(reader.entity(es, row, Options()), ensure_ascii=False)
            for version in VERSIONS:
                self.client.publish(f"{version}/Datastreams({datastream})/Observations", entity, qos=0)
            self.client.publish("v1.1/Observations", entity, qos=0)
        self.published += len(rows)
        return len(rows)

    def run(self, seconds: float | None = None, stop=None) -> int:
        """Bridge until `seconds` pass or `stop` (an Event) is set; returns the observations published."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while not (stop is not None and stop.is_set()) and (deadline is None or time.monotonic() < deadline):
            if not connection.in_atomic_block:
                close_old_connections()
            code = self.client.loop(timeout=0.05)
            if code != paho.MQTT_ERR_SUCCESS:
                raise ConnectionError(f"MQTT connection lost ({paho.error_string(code)})")
            if self.held:  # what arrived in this turn of the loop, written together
                self.flush()
            if select.select([self.listener], [], [], 0.05)[0]:
                self.listener.poll()
                while self.listener.notifies:
                    self.forward(self.listener.notifies.pop(0).payload)
        return self.published

    def close(self) -> None:
        self.client.disconnect()
        self.listener.close()
