"""A WMS layer's BoundingBox in every CRS it offers, added to the capabilities document by the front.

MapServer writes one per offered CRS when a layer's `wms_bbox_extended` is on, reprojecting each box on every cold
build, one by one: at 600 layers that was most of the build (26.8 s against 3.2 s without, issue 21), and it grows
with the catalog. The mapfile now asks MapServer for each layer's box in its own CRS only, and the boxes in the other
CRSs are computed here from it: every layer's box of one CRS pair at once (numpy arrays through one pyproj
transformer), each edge sampled at several points as MapServer's msProjectRect does, so a box stays the envelope of
the reprojected one. Group layers (the themes, the root) keep what MapServer wrote: the capabilities filter then
makes their boxes the union of their members'.
"""

from functools import lru_cache

import numpy as np
from lxml import etree
from pyproj import CRS, Transformer

EDGE_POINTS = 21  # samples along each edge of a box


@lru_cache(maxsize=32)
def _transformer(source: str, target: str) -> Transformer:
    return Transformer.from_crs(_crs(source), _crs(target), always_xy=True)


def _crs(code: str) -> CRS:
    return CRS.from_epsg(3857 if code.upper() == "EPSG:900913" else int(code.rsplit(":", 1)[-1]))


@lru_cache(maxsize=32)
def _lat_first(code: str) -> bool:
    """WMS 1.3.0 writes a box in its CRS's axis order: EPSG:4326 is latitude first."""
    axes = _crs(code).axis_info
    return bool(axes) and axes[0].direction in ("north", "south")


def _local(el) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _number(value: float, geographic: bool) -> str:
    return f"{value:.6f}" if geographic else f"{value:.10g}"  # MapServer's own spelling: %.6f, %g


def add_layer_boxes(tree) -> int:
    """Every named WMS layer of `tree` gets a BoundingBox for each CRS it lists that has none, made from the box in its
    own CRS; returns how many were added. WMS 1.3.0 (`CRS`, axis order of the CRS) and 1.1.1 (`SRS`, always x = east);
    other documents are left alone."""
    root = tree.getroot()
    if _local(root) not in ("WMS_Capabilities", "WMT_MS_Capabilities"):
        return 0
    attribute = "CRS" if _local(root) == "WMS_Capabilities" else "SRS"
    ordered = attribute == "CRS"  # 1.1.1 boxes are x = longitude, y = latitude whatever the CRS
    wanted: dict[tuple[str, str], list] = {}  # (from CRS, to CRS) → [(layer element, box element, x1, y1, x2, y2)]
    for layer in root.iter("{*}Layer"):
        children = [c for c in layer if isinstance(c.tag, str)]
        if not any(_local(c) == "Name" for c in children) or any(_local(c) == "Layer" for c in children):
            continue  # a group (a theme): its boxes are the union of its members', made by the filter
        boxes = [c for c in children if _local(c) == "BoundingBox"]
        if len(boxes) != 1:
            continue  # none to start from, or MapServer already wrote them all
        box = boxes[0]
        source = box.get(attribute, "")
        try:
            corners = [float(box.get(k)) for k in ("minx", "miny", "maxx", "maxy")]
        except (TypeError, ValueError):
            continue
        if ordered and _lat_first(source):
            corners = [corners[1], corners[0], corners[3], corners[2]]
        for crs in (code for c in children if _local(c) == attribute and c.text for code in c.text.split()):
            if crs != source and crs.upper().startswith("EPSG:"):
                wanted.setdefault((source, crs), []).append((layer, box, *corners))
    added = 0
    placed: dict = {}  # layer element → the box element the next one goes after (keeps the CRS order)
    for (source, target), rows in wanted.items():
        boxes = np.array([row[2:] for row in rows], dtype=float)
        t = np.linspace(0.0, 1.0, EDGE_POINTS)
        x1, y1, x2, y2 = (boxes[:, i:i + 1] for i in range(4))
        along_x, along_y = x1 + (x2 - x1) * t, y1 + (y2 - y1) * t  # the bottom and top edges, then left and right
        xs = np.hstack([along_x, along_x, np.repeat(x1, EDGE_POINTS, 1), np.repeat(x2, EDGE_POINTS, 1)])
        ys = np.hstack([np.repeat(y1, EDGE_POINTS, 1), np.repeat(y2, EDGE_POINTS, 1), along_y, along_y])
        px, py = _transformer(source, target).transform(xs, ys)
        px, py = np.asarray(px).reshape(xs.shape), np.asarray(py).reshape(ys.shape)
        found = (np.isfinite(px).all(axis=1) & np.isfinite(py).all(axis=1)).tolist()
        lows_x, lows_y, highs_x, highs_y = (a.tolist() for a in (px.min(axis=1), py.min(axis=1), px.max(axis=1),
                                                                  py.max(axis=1)))  # floats: formatted 10× faster
        geographic, lat_first = _crs(target).is_geographic, ordered and _lat_first(target)
        for i, (layer, box, *_corners) in enumerate(rows):
            if not found[i]:
                continue  # outside where the target CRS is defined: say nothing
            values = (lows_x[i], lows_y[i], highs_x[i], highs_y[i])
            if lat_first:
                values = (values[1], values[0], values[3], values[2])
            new = etree.Element(box.tag, {attribute: target}, **{k: _number(v, geographic) for k, v in
                                                         zip(("minx", "miny", "maxx", "maxy"), values, strict=True)})
            new.tail = box.tail
            after = placed.get(layer, box)
            after.addnext(new)
            placed[layer] = new
            added += 1
    return added
