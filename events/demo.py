"""The demo city's 1999 cases (layers.democity.hotline) as an event layer: its time attribute, its category list
with labels, and where its planted patterns are (EventLayer.meta["planted"], in EPSG:3826)."""

from layers.democity import hotline
from layers.models import Layer

from .models import EventLayer
from .records import FIELDS, TIME_FIELD
from .store import set_categories


def adopt(layer: Layer, city) -> EventLayer:
    english = {n: en for n, _t, _zh, en in FIELDS}
    zh = {n: z for n, _t, z, _en in FIELDS}
    for attr in layer.attributes:
        if attr["name"] in english:
            attr["label"], attr["label_en"] = zh[attr["name"]], english[attr["name"]]
    layer.time_attribute = TIME_FIELD
    layer.save(update_fields=["attributes", "time_attribute"])
    planted = hotline.planted_patterns(city.layers["address_points"], city.size)
    event_layer = EventLayer.objects.create(layer=layer, meta={
        "planted": planted, "slow_district": hotline.SLOW_DISTRICT, "slow_factor": hotline.SLOW_FACTOR,
        "start": hotline.START.isoformat(), "weeks": hotline.WEEKS})
    set_categories(event_layer, {code: (c[0], c[1]) for code, c in hotline.CATEGORIES.items()})
    return event_layer
