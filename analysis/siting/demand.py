"""Demand points with weights: a point layer's features, or an area layer's counts (population by village …)
spread over a regular grid inside each polygon — an area-weighted estimate that assumes an even spread, the
same assumption as the buffer's apportioning."""

import numpy as np
import shapely

from layers.models import Layer

from ..inputs import AnalysisInputError, readable_layer
from ..overlay import conditions
from . import features

GRID_M = 100.0


def spread(polygons: np.ndarray, values: np.ndarray, cell: float = GRID_M) -> tuple[np.ndarray, np.ndarray]:
    """Grid points (cell centres) inside each polygon, each carrying an equal share of its value; a polygon
    too small to hold a grid point gives its whole value to a point on its surface."""
    xy_parts, w_parts = [], []
    for poly, value in zip(polygons, values, strict=True):
        if poly is None or poly.is_empty or value == 0:
            continue
        x0, y0, x1, y1 = poly.bounds
        xs = np.arange(np.floor(x0 / cell) * cell + cell / 2, x1, cell)
        ys = np.arange(np.floor(y0 / cell) * cell + cell / 2, y1, cell)
        gx, gy = np.meshgrid(xs, ys)
        inside = shapely.contains_xy(poly, gx.ravel(), gy.ravel())
        pts = np.column_stack([gx.ravel()[inside], gy.ravel()[inside]])
        if not len(pts):
            p = shapely.point_on_surface(poly)
            pts = np.array([[p.x, p.y]])
        xy_parts.append(pts)
        w_parts.append(np.full(len(pts), value / len(pts)))
    if not xy_parts:
        return np.zeros((0, 2)), np.zeros(0)
    return np.concatenate(xy_parts), np.concatenate(w_parts)


def demand_points(layer: Layer, attribute: str | None, filters: dict | None,
                  cell: float = GRID_M) -> tuple[np.ndarray, np.ndarray]:
    """(xy, weight) of the demand: points weighted by `attribute` (or 1 each), areas spread over a grid."""
    if layer.geometry_type in ("Polygon", "MultiPolygon"):
        if not attribute:
            raise AnalysisInputError("{what}.attribute：{slug} 是面圖層；請指定要分攤到面上的數量（例如 population）",
                                     what="demand", slug=repr(layer.slug))
        polygons, values = features.polygons_with(layer, attribute, filters)
        return spread(polygons, values, cell)
    found = features.points(layer, filters, [attribute] if attribute else [], "demand")
    weight = np.ones(len(found["fid"])) if not attribute else np.array(
        [float(v or 0) for v in found[attribute]], dtype=float)
    return found["xy"], weight


def check_source(spec: dict, user, what: str) -> Layer:
    """A demand source's layer and attribute, checked before a job starts: areas need the count to spread."""
    layer = readable_layer(spec.get("layer"), user)
    conditions(layer, spec.get("filter"), "t")
    if spec.get("attribute"):
        features.attribute(layer, spec["attribute"], f"{what}.attribute")
    elif layer.geometry_type in ("Polygon", "MultiPolygon"):
        raise AnalysisInputError("{what}.attribute：{slug} 是面圖層；請指定要分攤到面上的數量（例如 population）",
                                 what=what, slug=repr(layer.slug))
    return layer
