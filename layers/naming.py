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


SLUG_LENGTH = 40  # of the 50 a slug may have: room for free_slug's "-2", "-3" …


def layer_slug(*names: str) -> str:
    """A readable catalog slug from a file or layer name, else from the next name given (the user's title):
    'Taipei MRT Routes.shp' → 'taipei-mrt-routes', '村里人口' → 'cun-li-ren-kou' (Hanyu Pinyin, one syllable a
    part: pinyin without breaks reads ambiguously, xian / xi-an). Deterministic, so re-importing a file finds
    its layer. Uniqueness is the catalog's (`Layer.objects.free_slug`)."""
    for name in names:
        slug = _readable(name or "")
        if slug:
            return slug if slug[0].isalpha() else f"layer-{slug}"[:SLUG_LENGTH].rstrip("-")
    # nothing readable (symbols, a script without a transliteration here): stable all the same
    return "layer-" + hashlib.sha1((names[0] if names else "").encode()).hexdigest()[:8]


def legacy_slug(name: str) -> str:
    """The slug imports gave before readable slugs ('大臺北捷運站' → 'layer-<sha1[:8]>', 'MRT車站' → 'mrt'), so a
    re-import of a file first imported then still finds its layer."""
    slug = slugify(unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode())[:40].strip("-_")
    if not slug:
        return "layer-" + hashlib.sha1(name.encode()).hexdigest()[:8]
    return slug if slug[0].isalpha() else f"layer-{slug}"


def _readable(text: str) -> str:
    from pypinyin import Style, lazy_pinyin  # its dictionaries load on first use: only when a name needs them

    # Han characters become syllables; everything else passes through to the Latin-only slugify
    parts = lazy_pinyin(text, style=Style.NORMAL, errors=lambda other: other)
    spaced = " ".join(parts)
    slug = slugify(unicodedata.normalize("NFKD", spaced).encode("ascii", "ignore").decode())
    slug = re.sub(r"[-_]*-[-_]*", "-", slug)  # '村里_人口' → cun-li-ren-kou, not cun-li-_-ren-kou
    if len(slug) > SLUG_LENGTH:  # cut at a break, not inside a syllable or word
        slug = slug[:SLUG_LENGTH + 1].rsplit("-", 1)[0]
    return slug[:SLUG_LENGTH].strip("-_")


def table_name(slug: str) -> str:
    return slug.replace("-", "_")
