"""GeoTIFF import: check the CRS, reproject to the working CRS, store as a Cloud-Optimized GeoTIFF."""

import math
from dataclasses import dataclass, field
from pathlib import Path

import rasterio
import rasterio.shutil
from django.conf import settings
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import CRSError, RasterioIOError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from geo.messages import text as note

from . import area
from .errors import ImportProblem, NeedsCRS
from .sources import Source


@dataclass
class StagedRaster:
    path: Path
    source_crs: str
    bands: list[dict]
    messages: list[dict] = field(default_factory=list)


def prepare_raster(source: Source, staging: str, crs_hint: str | None, srid: int) -> StagedRaster:
    out = Path(settings.MEDIA_ROOT) / "rasters" / "_staging" / f"{staging}.tif"
    out.parent.mkdir(parents=True, exist_ok=True)
    messages = []
    try:
        with rasterio.open(source.path) as src:
            _check_readable(src, source.name)
            crs = src.crs
            if crs_hint:
                try:
                    crs = CRS.from_user_input(f"EPSG:{crs_hint}" if str(crs_hint).isdigit() else crs_hint)
                except CRSError as exc:
                    raise ImportProblem("指定的坐標系統 {crs} 不是 PROJ 認得的坐標系統", crs=repr(crs_hint),
                                        file=source.name) from exc
            if not crs:
                raise NeedsCRS("GeoTIFF 沒有坐標參考系統；請重新匯入並指定它的坐標系統，例如 crs=4326 或 crs=3826",
                               file=source.name)
            if src.transform.is_identity:
                raise ImportProblem("GeoTIFF 沒有地理參照（沒有 geotransform）", file=source.name)
            _check_area(src.bounds, crs, source.name)
            nodata = "NaN" if src.nodata is not None and math.isnan(src.nodata) else src.nodata  # JSON has no NaN
            bands = [{"name": f"band_{i}", "type": dtype, "label": desc or f"band {i}", "nodata": nodata}
                     for i, (dtype, desc) in enumerate(zip(src.dtypes, src.descriptions, strict=True), start=1)]
            target = CRS.from_epsg(srid)
            resampling = Resampling.bilinear if src.dtypes[0].startswith("float") else Resampling.nearest
            if crs != target:
                with WarpedVRT(src, src_crs=crs, crs=target, resampling=resampling) as vrt:
                    _write_cog(vrt, out, resampling)
                messages.append(note("已從 {source_crs} 重投影至 EPSG:{srid}", source_crs=crs.to_string(), srid=srid))
            else:
                _write_cog(src, out, resampling)
            source_crs = crs.to_string()
        with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(out) as cog:  # no .aux.xml beside the COG
            _check_area(cog.bounds, cog.crs, source.name)  # reprojected into the storage CRS, still in its area
            [stats] = cog.stats(indexes=[1], approx=True)
            bands[0].update(min=stats.min, max=stats.max)  # the default colour ramp's span
            messages.append(note("已存為 Cloud-Optimized GeoTIFF，{width}×{height} 像素，{levels} 層縮圖",
                                 width=cog.width, height=cog.height, levels=len(cog.overviews(1))))
    except RasterioIOError as exc:
        out.unlink(missing_ok=True)
        raise ImportProblem("不是可讀取的 GeoTIFF（{reason}）", reason=str(exc)[:200], file=source.name) from exc
    except ImportProblem:
        out.unlink(missing_ok=True)
        raise
    return StagedRaster(out, source_crs, bands, messages)


def _check_readable(src, name: str) -> None:
    """A truncated GeoTIFF opens (its header is there) but its last block is missing: read that one block."""
    try:
        src.read(1, window=Window(src.width - 1, src.height - 1, 1, 1))
    except RasterioIOError as exc:
        raise ImportProblem("GeoTIFF 不完整或已損壞：無法讀取影像資料", file=name) from exc


def _check_area(bounds, crs: CRS, name: str) -> None:
    from pyproj import CRS as ProjCRS

    proj_crs = ProjCRS.from_wkt(crs.to_wkt())
    if not area.total_inside(tuple(bounds), proj_crs):
        found = area.area_of(proj_crs)
        where = f" ({found.describe()})" if found else ""
        raise ImportProblem("GeoTIFF 的範圍 {extent} 落在其坐標系統的適用範圍之外{where}；是否屬於另一個坐標系統？"
                            "請在匯入時指定 crs=", extent=", ".join(f"{v:.6g}" for v in bounds), where=where, file=name)


def _write_cog(dataset, path: Path, resampling: Resampling) -> None:
    rasterio.shutil.copy(dataset, path, driver="COG", COMPRESS="DEFLATE",
                         PREDICTOR="3" if dataset.dtypes[0].startswith("float") else "2",
                         OVERVIEW_RESAMPLING=resampling.name.upper(), BLOCKSIZE=256)
