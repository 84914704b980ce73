// Other agencies' services registered in the catalog (kind "service"): WMS layers, WMTS/XYZ tile templates.
import L from "./leaflet-global.js";

function wmsQuery(service, extra) {
  const base = service.url + (service.url.includes("?") ? "&" : "?");
  return base + new URLSearchParams({ SERVICE: "WMS", VERSION: service.version || "1.3.0", ...extra }).toString();
}

// A Leaflet layer drawing the service.
export function serviceLayer2d(layer, pane) {
  const s = layer.service;
  if (s.type === "wms") {
    return L.tileLayer.wms(s.url, { layers: s.layer, format: s.format || "image/png", transparent: true,
      version: s.version || "1.3.0", pane, attribution: layer.source || "" });
  }
  return L.tileLayer(s.tile_url, { pane, maxZoom: 20, attribution: layer.source || "" });
}

// A MapLibre raster source for the service.
export function serviceSource3d(layer) {
  const s = layer.service;
  const tile = s.type === "wms"
    ? wmsQuery(s, { REQUEST: "GetMap", LAYERS: s.layer, STYLES: "", FORMAT: s.format || "image/png", TRANSPARENT: "TRUE",
      CRS: "EPSG:3857", WIDTH: "256", HEIGHT: "256" }) + "&BBOX={bbox-epsg-3857}"
    : s.tile_url;
  return { type: "raster", tiles: [tile], tileSize: 256 };
}

// The service's own legend picture (WMS GetLegendGraphic), or null.
export function serviceLegendUrl(layer) {
  const s = layer.service;
  return s && s.type === "wms" ? wmsQuery(s, { REQUEST: "GetLegendGraphic", LAYER: s.layer, FORMAT: "image/png",
    SLD_VERSION: "1.1.0" }) : null;
}
