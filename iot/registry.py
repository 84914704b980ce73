"""Registering devices: from the features of a registry layer (e.g. air-sensors, one device per sensor_id),
each getting a new token shown once."""

from django.contrib.gis.geos import Point
from django.db import connection, transaction
from psycopg2 import sql

from analysis.inputs import AnalysisInputError
from layers.models import DATA_SCHEMA, Layer

from .models import Device
from .tokens import new_token


def from_layer(layer: Layer, id_attribute: str, name_attribute: str | None = None,
               editor=None) -> tuple[list[dict], list[str]]:
    """One device per feature (new ones created, existing ones moved to the feature's place and re-keyed):
    (the tokens issued, the device ids skipped). A device registered from another layer is re-keyed only for
    someone who may edit that layer (`editor` None: the operator's own commands); otherwise anyone with a
    layer of their own could take over another agency's device and its readings."""
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
    issued, skipped = [], []
    elsewhere = {d.device_id: d for d in Device.objects.select_related("layer").exclude(layer=layer)
                 .filter(device_id__in=[f[1] for f in features if f[1]])}
    with transaction.atomic():
        for fid, device_id, name, x, y in features:
            if not device_id:
                continue
            other = elsewhere.get(device_id)
            if other is not None and editor is not None and not (other.layer and other.layer.can_edit(editor)):
                skipped.append(device_id)
                continue
            token, hashed = new_token()
            Device.objects.update_or_create(device_id=device_id, defaults={
                "name": name or "", "layer": layer, "feature_fid": fid, "token_hash": hashed,
                "location": Point(x, y, srid=layer.srid)})
            issued.append({"device_id": device_id, "token": token})
    return issued, skipped
