// Other agencies' services registered or harvested into the catalog (kind "service"): WMS layers, WMTS/XYZ tile
// templates, ArcGIS REST MapServer layers (drawn through the MapServer's export operation, 256 px web-mercator
// images). The server sends only these types (layers.ogc.external.DRAWABLE).
import L from "./leaflet-global.js";

function wmsQuery(service, extra) {
  const base = service.url + (service.url.includes("?") ? "&" : "?");
  return base + new URLSearchParams({ SERVICE: "WMS", VERSION: service.version || "1.3.0", ...extra }).toString();
}

// an ArcGIS MapServer export of one layer; `bbox` in EPSG:3857 (a MapLibre template or four numbers)
function arcgisExport(service, bbox) {
  const query = new URLSearchParams({ bboxSR: "3857", imageSR: "3857", size: "256,256", format: "png32",
    transparent: "true", layers: `show:${service.layer_id}`, f: "image" }).toString();
  return `${service.url}/export?${query}&bbox=${bbox}`;
}

const ArcGisLayer = L.TileLayer.extend({
  getTileUrl(coords) {
    const nwSe = this._tileCoordsToNwSe(coords);
    const a = L.CRS.EPSG3857.project(nwSe[0]);
    const b = L.CRS.EPSG3857.project(nwSe[1]);
    return arcgisExport(this.options.service, [Math.min(a.x, b.x), Math.min(a.y, b.y), Math.max(a.x, b.x),
      Math.max(a.y, b.y)].join(","));
  },
});

// A Leaflet layer drawing the service.
export function serviceLayer2d(layer, pane) {
  const s = layer.service;
  if (s.type === "wms") {
    return L.tileLayer.wms(s.url, { layers: s.layer, format: s.format || "image/png", transparent: true,
      version: s.version || "1.3.0", pane, attribution: layer.source || "" });
  }
  if (s.type === "arcgis") return new ArcGisLayer("", { service: s, pane, maxZoom: 20, attribution: layer.source || "" });
  return L.tileLayer(s.tile_url, { pane, maxZoom: 20, attribution: layer.source || "" });
}

// A MapLibre raster source for the service.
export function serviceSource3d(layer) {
  const s = layer.service;
  let tile = s.tile_url;
  if (s.type === "wms") {
    tile = wmsQuery(s, { REQUEST: "GetMap", LAYERS: s.layer, STYLES: "", FORMAT: s.format || "image/png", TRANSPARENT: "TRUE",
      CRS: "EPSG:3857", WIDTH: "256", HEIGHT: "256" }) + "&BBOX={bbox-epsg-3857}";
  } else if (s.type === "arcgis") {
    tile = arcgisExport(s, "{bbox-epsg-3857}");
  }
  return { type: "raster", tiles: [tile], tileSize: 256 };
}

// The service's own legend picture: the one its capabilities name (a harvested layer), else WMS GetLegendGraphic,
// or null.
export function serviceLegendUrl(layer) {
  const s = layer.service;
  if (s && s.legend_url) return s.legend_url;
  return s && s.type === "wms" ? wmsQuery(s, { REQUEST: "GetLegendGraphic", LAYER: s.layer, FORMAT: "image/png",
    SLD_VERSION: "1.1.0" }) : null;
}
