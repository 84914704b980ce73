"""Batch geocoding of a CSV's address column on import.

It runs when the CSV has no coordinate columns and a column is named like an address (地址, address, 門牌 …), or
when the import names the column (option `address_column`). Each row gets its match level, score and the address
found as attributes (geocode_level, geocode_score, geocode_address). A row that matches nothing has no location:
it is not stored in the layer (a layer row needs a point), and the import report lists every such row by line
number and address, with their count; fix them and import the file again as a new version.
"""

import numpy as np
import shapely
from django.conf import settings
from pyproj import CRS

from geo.messages import text as note
from layers.importing.errors import ImportProblem, row_list
from layers.importing.readers import Column, FeatureData, _norm
from layers.models import Layer

from . import index
from .geocoder import Geocoder

ADDRESS_NAMES = {"地址", "address", "門牌", "門牌地址", "住址", "addr", "完整地址", "地點", "案件地址", "設置地址",
                 "fulladdress", "addressstring"}
LISTED = 50  # unmatched rows named one by one in the report; the count covers the rest


def address_column(data: FeatureData, wanted: str | None) -> int | None:
    names = [_norm(c.source_name) for c in data.columns]
    if wanted:
        if _norm(wanted) not in names:
            raise ImportProblem("找不到地址欄位 {name}；檔案的欄位是 {columns}", name=repr(wanted),
                                columns=", ".join(c.source_name for c in data.columns), file=data.source.name,
                                field=wanted)
        return names.index(_norm(wanted))
    if data.has_geometry:
        return None
    return next((i for i, n in enumerate(names) if n in ADDRESS_NAMES), None)


def geocode(data: FeatureData, user, wanted: str | None = None) -> FeatureData:
    """`data` with points from its address column (when it has one to geocode), and the report's messages."""
    col = address_column(data, wanted)
    if col is None:
        return data
    column = data.columns[col]
    layers = index.address_layers(Layer.objects.visible_to(user))
    if not layers:
        raise ImportProblem("欄位 {name} 是地址，但目錄中沒有您可使用的門牌位置圖層可供定位；"
                            "請加入門牌圖層（關鍵字「門牌」）或在 CSV 中提供坐標欄位", name=repr(column.source_name),
                            file=data.source.name,
                            field=column.source_name)
    texts = ["" if v is None else str(v) for v in column.values]
    matches = Geocoder(layers).geocode_many(texts)
    points = np.array([shapely.Point(m.x, m.y) if m else None for m in matches], dtype=object)
    lines = data.row_numbers or list(range(1, len(texts) + 1))
    unmatched = [(line, text) for line, text, m in zip(lines, texts, matches, strict=True) if m is None]
    levels = {}
    for m in matches:
        if m:
            levels[m.level] = levels.get(m.level, 0) + 1
    data.points = points
    # the reader noted "no coordinate columns: a table without geometry", which no longer holds
    data.messages = [m for m in data.messages if not str(m.get("msgid", "") if isinstance(m, dict) else m)
                     .startswith("沒有坐標欄位")]
    data.crs = CRS.from_epsg(settings.WORKING_SRID)
    data.crs_note = note("由地址欄位 {name} 定位", name=column.source_name)
    data.columns = data.columns + [
        Column("geocode_level", "text", [m.level if m else "none" for m in matches]),
        Column("geocode_score", "double precision", [m.score if m else 0.0 for m in matches]),
        Column("geocode_address", "text", [m.label if m else None for m in matches])]
    data.messages.append(note("地址定位：{n} 列中 {matched} 列找到位置（{levels}）", n=f"{len(texts):,}",
                              matched=f"{len(texts) - len(unmatched):,}",
                              levels=", ".join(f"{k} {v:,}" for k, v in sorted(levels.items()))))
    if unmatched:
        listed = "；".join(f"{line}: {text or '—'}" for line, text in unmatched[:LISTED])
        data.messages.append(note("{where}的地址找不到位置，未匯入（{listed}）", listed=listed,
                                  where=row_list([line for line, _t in unmatched])))
    return data
