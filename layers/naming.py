"""Names that PostGIS, MapServer, GeoServer and shapefile exports all accept, keeping the original as a label."""

import hashlib
import re
import unicodedata

from django.utils.text import slugify

RESERVED_COLUMNS = {"fid", "geom", "oid", "ctid", "xmin", "xmax", "cmin", "cmax", "tableoid"}
MAX_IDENTIFIER = 63


def column_names(originals: list[str]) -> list[str]:
    """Lower-case ASCII snake_case, unique, never a reserved name; e.g. 'RouteName' → 'routename',
    '坐標X(TWD97)' → 'x_twd97', '項次' → 'field_1'."""
    out, seen = [], set()
    for i, original in enumerate(originals, start=1):
        ascii_text = unicodedata.normalize("NFKD", original).encode("ascii", "ignore").decode()
        name = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
        if not name or not name[0].isalpha():
            name = f"field_{i}" if not name else f"f_{name}"
        if name in RESERVED_COLUMNS:
            name = f"{name}_1"
        name = name[:MAX_IDENTIFIER - 4]
        base, n = name, 2
        while name in seen:
            name, n = f"{base}_{n}", n + 1
        seen.add(name)
        out.append(name)
    return out


def layer_slug(text: str, taken: set[str] | None = None) -> str:
    """A catalog slug from a file or layer name ('Taipei MRT Routes.shp' → 'taipei-mrt-routes')."""
    slug = slugify(unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode())[:40].strip("-_")
    if not slug:
        # a name with no Latin letters (大臺北地區捷運車站出入口): stable, so re-importing finds the same layer
        slug = "layer-" + hashlib.sha1(text.encode()).hexdigest()[:8]
    elif not slug[0].isalpha():
        slug = f"layer-{slug}"
    taken = taken or set()
    base, n = slug, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def table_name(slug: str) -> str:
    return slug.replace("-", "_")
