// The 3D view (3維圖台): MapLibre GL with buildings extruded by their height, terrain from the platform's
// terrain-RGB tiles, tilt and rotate; drawn from the same layer state as the 2D map.
import maplibregl from "maplibre-gl";
import { config, layersBySlug, url } from "./config.js";
import { state, subscribe } from "./state.js";
import { isLine, isPoint, maplibreColor } from "./symbology.js";
import { featureContent, loadingContent } from "./identify.js";
import { serviceSource3d } from "./services.js";

const absolute = (path) => new URL(path, location.origin).href.replaceAll("%7B", "{").replaceAll("%7D", "}");
const OVERLAY = "overlay:";

function vectorSource(layer) {
  return { type: "vector", tiles: [absolute(url("vector_tile", { slug: layer.slug }))], minzoom: layer.min_zoom,
    maxzoom: 16, bounds: layer.bbox };
}

function styleLayers(layer, id, source, opacity) {
  const style = layer.style;
  const color = maplibreColor(style);
  const base = { id, source, "source-layer": layer.slug, minzoom: Math.max(0, layer.min_zoom - 1) };
  if (layer.height_attribute) {
    return [{ ...base, type: "fill-extrusion", paint: { "fill-extrusion-color": color,
      "fill-extrusion-height": ["to-number", ["get", layer.height_attribute], 0], "fill-extrusion-opacity": opacity } }];
  }
  if (isLine(layer)) {
    return [{ ...base, type: "line", paint: { "line-color": color, "line-width": style.stroke_width, "line-opacity": opacity } }];
  }
  if (isPoint(layer)) {
    return [{ ...base, type: "circle", paint: { "circle-color": color, "circle-radius": style.point_size / 1.5,
      "circle-stroke-color": style.stroke_color, "circle-stroke-width": 1, "circle-opacity": opacity } }];
  }
  return [
    { ...base, type: "fill", paint: { "fill-color": color, "fill-opacity": opacity * 0.75 } },
    { ...base, id: `${id}:outline`, type: "line", paint: { "line-color": style.stroke_color, "line-width": style.stroke_width, "line-opacity": opacity } },
  ];
}

function baseStyle() {
  const sources = {};
  const layers = [{ id: "background", type: "background", paint: { "background-color": "#f4f1ea" } }];
  if (config.terrain) {
    const dem = { type: "raster-dem", tiles: [absolute(url("terrain_tile", { slug: config.terrain.slug }))],
      tileSize: 256, encoding: "mapbox", maxzoom: 14, bounds: config.terrain.bbox };
    sources.terrain = dem;
    sources.hillshade = { ...dem };
    layers.push({ id: "hillshade", type: "hillshade", source: "hillshade", paint: { "hillshade-exaggeration": 0.4 } });
  }
  const platform = config.basemaps.find((b) => b.type === "platform");
  for (const layer of platform ? platform.layers : []) {
    sources[`base:${layer.slug}`] = vectorSource(layer);
    layers.push(...styleLayers(layer, `base:${layer.slug}`, `base:${layer.slug}`, 0.8));
  }
  return { version: 8, sources, layers };
}

function syncOverlays(map) {
  for (const l of map.getStyle().layers) if (l.id.startsWith(OVERLAY)) map.removeLayer(l.id);
  for (const id of Object.keys(map.getStyle().sources)) if (id.startsWith(OVERLAY)) map.removeSource(id);
  for (const slug of [...state.active].reverse()) {
    const layer = layersBySlug[slug];
    const id = OVERLAY + slug;
    if (layer.kind === "service") {
      map.addSource(id, serviceSource3d(layer));
      map.addLayer({ id, type: "raster", source: id, paint: { "raster-opacity": state.opacity[slug] } });
    } else if (layer.kind === "raster") {
      map.addSource(id, { type: "raster", tiles: [absolute(url("raster_tile", { slug }))], tileSize: 256, bounds: layer.bbox });
      map.addLayer({ id, type: "raster", source: id, paint: { "raster-opacity": state.opacity[slug] } });
    } else {
      map.addSource(id, vectorSource(layer));
      for (const def of styleLayers(layer, id, id, state.opacity[slug])) map.addLayer(def);
    }
  }
}

export function create3d(container, view, onIdentify) {
  const map = new maplibregl.Map({
    container, style: baseStyle(), center: view.center, zoom: view.zoom, pitch: 60, bearing: -20, maxPitch: 80,
    attributionControl: false, canvasContextAttributes: { preserveDrawingBuffer: true },
  });
  map.addControl(new maplibregl.NavigationControl({ visualizePitch: true }), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");
  map.on("load", () => {
    if (config.terrain) map.setTerrain({ source: "terrain", exaggeration: 1.5 });
    syncOverlays(map);
    subscribe(() => syncOverlays(map));
  });
  map.on("click", async (e) => {
    const hit = map.queryRenderedFeatures(e.point).find((f) => f.layer.id.startsWith(OVERLAY));
    if (!hit) return;
    const layer = layersBySlug[hit.layer.id.slice(OVERLAY.length).replace(/:outline$/, "")];
    const popup = new maplibregl.Popup({ maxWidth: "360px", className: "identify" }).setLngLat(e.lngLat)
      .setHTML(loadingContent(layer)).addTo(map);
    popup.setHTML(await featureContent(layer, hit.id, { ...hit.properties }));
    onIdentify?.(layer, hit);
  });
  return map;
}

export { maplibregl };
