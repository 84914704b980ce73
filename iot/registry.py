"""Registering devices: from the features of a registry layer (e.g. air-sensors, one device per sensor_id),
each getting a new token shown once."""

from django.contrib.gis.geos import Point
from django.db import connection, transaction
from psycopg2 import sql

from analysis.inputs import AnalysisInputError
from layers.models import DATA_SCHEMA, Layer

from .models import Device
from .tokens import new_token


def from_layer(layer: Layer, id_attribute: str, name_attribute: str | None = None) -> list[dict]:
    """One device per feature (new ones created, existing ones moved to the feature's place and re-keyed)."""
    names = {a["name"] for a in layer.attributes}
    for attr in (id_attribute, name_attribute):
        if attr and attr not in names:
            raise AnalysisInputError(f"layer {layer.slug!r} has no attribute {attr!r}")
    if layer.geometry_type not in ("Point", "MultiPoint"):
        raise AnalysisInputError(f"layer {layer.slug!r} has {layer.geometry_type} features; sensors are points")
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT fid, {}::text, {}::text, ST_X(ST_PointOnSurface(geom)), "
                            "ST_Y(ST_PointOnSurface(geom)) FROM {} ORDER BY fid").format(
            sql.Identifier(id_attribute), sql.Identifier(name_attribute) if name_attribute else sql.SQL("''"),
            sql.Identifier(DATA_SCHEMA, layer.table_name)))
        features = cur.fetchall()
    issued = []
    with transaction.atomic():
        for fid, device_id, name, x, y in features:
            if not device_id:
                continue
            token, hashed = new_token()
            Device.objects.update_or_create(device_id=device_id, defaults={
                "name": name or "", "layer": layer, "feature_fid": fid, "token_hash": hashed,
                "location": Point(x, y, srid=layer.srid)})
            issued.append({"device_id": device_id, "token": token})
    return issued
