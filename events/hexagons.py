"""H3 cells (Uber's hexagonal grid, the `h3` package) for counting events: PostGIS has no H3, so each event's cell
is found here from its longitude and latitude and joined back to the table by the event's key."""

import h3
from django.db import connection
from psycopg2 import sql

RESOLUTIONS = (7, 8, 9, 10)  # cells of ~5 km² down to ~0.015 km²: a district's scale down to a block's


def edge_m(resolution: int) -> float:
    """The mean edge length of a hexagon at `resolution`, in metres (H3's own table)."""
    return round(h3.average_hexagon_edge_length(resolution, unit="m"), 1)


def assign(table: sql.Composable, resolution: int) -> tuple[list[int], list[str]]:
    """The located events of `table` (its fid) and the H3 cell of each."""
    with connection.cursor() as cur:
        cur.execute(sql.SQL("SELECT fid, ST_X(p), ST_Y(p) FROM (SELECT fid, ST_Transform(geom, 4326) p FROM {} "
                            "WHERE geom IS NOT NULL) s").format(table))
        rows = cur.fetchall()
    return [r[0] for r in rows], [h3.latlng_to_cell(lat, lon, resolution) for _fid, lon, lat in rows]


def _ring(cell: str) -> list[list[float]]:
    ring = [[round(lon, 7), round(lat, 7)] for lat, lon in h3.cell_to_boundary(cell)]
    return ring + ring[:1]


def polygon(cell: str) -> dict:
    """The cell as a GeoJSON polygon (EPSG:4326)."""
    return {"type": "Polygon", "coordinates": [_ring(cell)]}


def wkt(cell: str) -> str:
    return "POLYGON((" + ",".join(f"{lon} {lat}" for lon, lat in _ring(cell)) + "))"
