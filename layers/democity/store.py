"""Writing the demo city into PostGIS (one table per layer in `layerdata`) and its DEM to a GeoTIFF."""

import json
import os
from pathlib import Path

import numpy as np
import pyogrio.raw
import shapely
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection, transaction
from psycopg2 import sql

from geo import media
from geo.crs import transform
from layers.catalog import default_style, describe_table, extent_lonlat
from layers.models import Layer, LayerVersion, Theme
from layers.ogc import publishing
from layers.pgload import EWKB, write_features
from layers.serving.tiles import min_zoom_for
from layers.styles import compute_classes, ramp_colors

from .city import SRID, DemoCity
from .terrain import write_dem

DEMO_SCHEMA = "layerdata"
DEM_FILENAME = "demo_dem.tif"


def dem_path() -> Path:
    return Path(settings.MEDIA_ROOT) / "rasters" / DEM_FILENAME


def is_loaded(schema: str = DEMO_SCHEMA) -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{schema}.parcels"])
        tables = cur.fetchone()[0]
    return tables and dem_path().exists() and Layer.objects.filter(slug="parcels", table_name="parcels").exists()


def store(city: DemoCity, schema: str = DEMO_SCHEMA, progress=print) -> dict[str, int]:
    """Write every layer in one transaction (all or nothing) and the DEM beside it; returns row counts."""
    srid = settings.WORKING_SRID
    counts = {}
    with transaction.atomic(), connection.cursor() as cur:
        raw = cur.cursor  # the psycopg2 cursor, for COPY
        for name, layer in city.layers.items():
            ewkb = None if layer.geoms is None else EWKB.from_geometries(transform(layer.geoms, SRID, srid), srid)
            counts[name] = write_features(raw, schema, name, layer.columns, ewkb, layer.geometry_type, srid)
            about = {"title_zh": layer.title_zh, "title_en": layer.title_en,
                     "source": f"civgis demo city, seed {city.seed}, size {city.size}"}
            cur.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(
                sql.Identifier(schema, name), sql.Literal(json.dumps(about, ensure_ascii=False))))
            progress(f"  {name}: {counts[name]:,} rows")
    path = dem_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.tif")
    write_dem(partial, city.terrain, SRID)
    os.replace(partial, path)
    progress(f"  DEM: {path} ({city.terrain.elevation.shape[1]}×{city.terrain.elevation.shape[0]} px)")
    return counts


# attributes in the overview tiles (below zoom 14)
TILE_ATTRIBUTES = {
    "districts": ["name", "population"], "villages": ["name", "district", "population", "density_per_km2"],
    "roads": ["name", "road_class", "width_m"], "parcels": ["land_use_code", "land_use"],
    "buildings": ["floors", "height_m"],
    "facilities": ["name", "kind", "kind_zh"], "wifi_hotspots": ["name"], "air_sensors": ["sensor_id", "status"],
    "rivers": ["name"], "flood_zones": ["depth_class"],
}
# layer → (theme, owner agency, visibility, abstract)
CATALOG = {
    "districts": ("admin", "民政局", "public", "行政區界與人口統計（示範城市）"),
    "villages": ("population", "民政局", "public", "村里界、戶數、人口與年齡結構（示範城市）"),
    "roads": ("roads", "交通局", "public", "道路中心線：路名、道路等級、路寬、車道數、速限與節點編號"),
    "parcels": ("cadastre", "地政局", "internal", "地籍宗地：地段、地號、使用分區、公私有別與公告土地現值"),
    "buildings": ("buildings", "都市發展局", "public", "建物輪廓、樓層數、高度、用途與建造年份"),
    "facilities": ("facilities", "都市發展局", "public", "學校、公園、圖書館與國民運動中心"),
    "wifi_hotspots": ("wifi", "資訊科技局", "public", "免費無線上網熱點位置、頻寬與容量"),
    "wifi_usage": ("wifi", "資訊科技局", "internal", "熱點每日連線數、使用人數、流量與尖峰同時連線"),
    "air_sensors": ("air-quality", "環境保護局", "public", "空氣品質微型感測器位置與狀態"),
    "air_readings": ("air-quality", "環境保護局", "public", "感測器逐時 PM2.5、PM10、溫度與濕度"),
    "rivers": ("water", "水務局", "public", "河川中心線"),
    "flood_zones": ("flooding", "水務局", "public", "淹水潛勢範圍與淹水深度分級（24 小時 350 毫米情境）"),
    "address_points": ("admin", "民政局", "public", "門牌位置坐標：區、村里、路街段、巷、號（示範城市，沿道路產生）"),
}
# keywords beyond 示範城市/demo: 門牌 makes a point layer the geocoder's address source (layers.geocoding.index)
KEYWORDS = {"address_points": ["門牌", "address points"]}
# how the demo layers are drawn (the viewer's colours and legends come from these classes)
DEMO_STYLES = {
    "districts": {"fill_color": "#f2efe9", "stroke_color": "#7a6f63", "stroke_width": 2.0, "opacity": 0.2},
    "villages": {"kind": "graduated", "attribute": "density_per_km2", "method": "quantiles", "ramp": "YlOrRd",
                 "stroke_color": "#8c6d4f", "opacity": 0.55, "label_attribute": "name"},
    "roads": {"fill_color": "#6b6b6b", "stroke_color": "#6b6b6b", "stroke_width": 1.5, "label_attribute": "name"},
    "parcels": {"kind": "categorized", "attribute": "land_use", "stroke_color": "#555555",
                "stroke_width": 0.5, "opacity": 0.5},
    "buildings": {"kind": "graduated", "attribute": "height_m", "method": "quantiles", "ramp": "Purples",
                  "stroke_color": "#54278f", "stroke_width": 0.5, "opacity": 0.8},
    "facilities": {"kind": "categorized", "attribute": "kind_zh", "point_size": 7.0, "stroke_color": "#ffffff",
                   "opacity": 0.95, "label_attribute": "name"},
    "wifi_hotspots": {"fill_color": "#00897b", "stroke_color": "#ffffff", "point_size": 5.0, "opacity": 0.9},
    "air_sensors": {"kind": "categorized", "attribute": "status", "point_size": 5.0, "stroke_color": "#ffffff",
                    "opacity": 0.9},
    "rivers": {"fill_color": "#4a90d9", "stroke_color": "#4a90d9", "stroke_width": 3.0, "opacity": 0.9},
    "flood_zones": {"kind": "categorized", "attribute": "depth_class", "stroke_color": "#08519c",
                    "stroke_width": 0.5, "opacity": 0.5},
    "address_points": {"fill_color": "#8d6e63", "stroke_color": "#ffffff", "point_size": 3.0, "opacity": 0.8},
    "": {"kind": "graduated", "attribute": "band_1", "method": "equal_interval", "ramp": "Greens", "opacity": 0.6},
}
DEM_ENTRY = ("demo-dem", "數值地形模型", "Digital elevation model", "terrain", "水務局", "public")


def register(city: DemoCity, schema: str = DEMO_SCHEMA) -> list[Layer]:
    """Describe the demo tables in the catalog (themes, agencies, version 1), replacing earlier entries."""
    layers = []
    with transaction.atomic():
        for name, layer_table in city.layers.items():
            theme, agency, visibility, abstract = CATALOG[name]
            info = describe_table(schema, name)
            kind = Layer.Kind.VECTOR if layer_table.geometry_type else Layer.Kind.TABLE
            layers.append(_entry(name.replace("_", "-"), name, layer_table.title_zh, layer_table.title_en, theme,
                                 agency, visibility, abstract, kind, info, city))
        slug, zh, en, theme, agency, visibility = DEM_ENTRY
        native = list(city.terrain.transform @ (0, city.terrain.elevation.shape[0])) + list(
            city.terrain.transform @ (city.terrain.elevation.shape[1], 0))
        elevation = city.terrain.elevation
        band = {"name": "band_1", "type": "float32", "label": "高程", "label_en": "Elevation", "unit": "公尺",
                "unit_en": "m", "kind": "measure", "decimals": 0, "aggregate": "mean",
                "min": float(elevation.min()), "max": float(elevation.max())}
        info = {"attributes": [band], "feature_count": 0,
                "geometry_type": "", "native_extent": native, "extent": extent_lonlat(native, SRID)}
        dem = _entry(slug, "", zh, en, theme, agency, visibility, "20 m 數值地形模型（示範城市）", Layer.Kind.RASTER,
                     info, city)
        dem.raster_path = str(dem_path().relative_to(settings.MEDIA_ROOT))
        media.put(dem_path())
        dem.save()
        LayerVersion.objects.filter(layer=dem).update(raster_path=dem.raster_path)
        layers.append(dem)
    return layers


def _entry(slug, table, title_zh, title_en, theme, agency, visibility, abstract, kind, info, city) -> Layer:
    Layer.objects.filter(slug=slug).delete()
    layer = Layer.objects.create(
        slug=slug, table_name=table, title_zh=title_zh, title_en=title_en, abstract=abstract,
        keywords=["示範城市", "demo", *KEYWORDS.get(table, [])], theme=Theme.objects.filter(slug=theme).first(),
        owner_agency=Group.objects.get_or_create(name=agency)[0], visibility=visibility, kind=kind,
        geometry_type=info["geometry_type"], feature_count=info["feature_count"], attributes=info["attributes"],
        native_extent=info["native_extent"], extent=info["extent"], source_crs=f"EPSG:{SRID}",
        srid=settings.WORKING_SRID, source=f"civgis demo city, seed {city.seed}, size {city.size}",
        license="CC0 (synthetic data)", update_frequency="notPlanned",
        min_zoom=min_zoom_for(info["feature_count"], info["native_extent"]) if kind == Layer.Kind.VECTOR else 0,
        tile_attributes=TILE_ATTRIBUTES.get(table, []))
    version = LayerVersion.objects.create(layer=layer, number=1, table_name=table, feature_count=layer.feature_count,
                                          source_name="make_demo_city", note="generated")
    layer.current_version = version
    layer.save()
    _demo_style(layer, DEMO_STYLES.get(table, {}))
    publishing.follow(layer, publishing.PUBLISH)
    return layer


def _demo_style(layer: Layer, settings_: dict) -> None:
    style = default_style(layer)
    for key, value in settings_.items():
        setattr(style, key, value)
    if layer.kind == Layer.Kind.RASTER:
        # a raster's ramp spans its band's range (compute_classes classifies vector attributes only)
        band = layer.attributes[0]
        step = (band["max"] - band["min"]) / style.class_count
        colors = ramp_colors(style.ramp, style.class_count)
        style.classes = [{"min": band["min"] + i * step, "max": band["min"] + (i + 1) * step, "color": c,
                          "label": f"{band['min'] + i * step:,.0f} – {band['min'] + (i + 1) * step:,.0f} m"}
                         for i, c in enumerate(colors)]
    else:
        style.classes = compute_classes(style)
    style.save()


def write_geopackage(city: DemoCity, path: Path) -> None:
    """Every spatial layer into one GeoPackage (EPSG:3826), e.g. as input for import benchmarks."""
    path.unlink(missing_ok=True)
    for name, layer in city.layers.items():
        if layer.geoms is None:
            continue
        names = list(layer.columns)
        arrays = [_ogr_array(layer.columns[c]) for c in names]
        pyogrio.raw.write(str(path), shapely.to_wkb(layer.geoms), arrays, names, layer=name, driver="GPKG",
                          geometry_type=layer.geometry_type, crs=f"EPSG:{SRID}", append=path.exists())


def _ogr_array(column):
    pgtype, values = column
    if pgtype in ("date", "timestamptz"):
        return np.array([v.isoformat() for v in values], dtype=object)
    return np.asarray(values) if pgtype != "text" else np.array(values, dtype=object)
