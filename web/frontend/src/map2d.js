// The 2D map (Leaflet): basemaps, the platform's vector and raster tiles in the panel's order, identify on
// click and a highlight on hover.
import L from "./leaflet-global.js";
import "leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.js";
import { config, layersBySlug, layerTitle, t, url } from "./config.js";
import { state, subscribe } from "./state.js";
import { leafletStyle, zoomRange } from "./symbology.js";
import { showFeatures } from "./identify.js";
import { serviceLayer2d } from "./services.js";

L.Icon.Default.imagePath = config.images_url;

const HIGHLIGHT = { color: "#ff6d00", weight: 3, fill: true, fillColor: "#ffd180", fillOpacity: 0.6, radius: 8 };
const drawn = {};
const drawnFilter = {};
const revisions = {}; // a layer's tiles asked for again (a new address past the browser's cache) after an edit
export const tileTimings = [];

export function createMap(element) {
  const map = L.map(element, { zoomControl: false, preferCanvas: true, minZoom: 6, maxZoom: 20,
    attributionControl: true });
  L.control.zoom({ position: "topright", zoomInTitle: t("zoom_in"), zoomOutTitle: t("zoom_out") }).addTo(map);
  L.control.scale({ metric: true, imperial: false, position: "bottomright" }).addTo(map);
  map.createPane("basemap").style.zIndex = 150;
  map.createPane("basemapOverlay").style.zIndex = 160; // names drawn over a basemap (basemaps.js)
  const [w, s, e, n] = config.initial_bbox;
  map.fitBounds([[s, w], [n, e]]);
  return map;
}

// what changes a layer's tiles: its filter and, for a time-enabled layer, the time slider's window
function tileQuery(layer, filter, time = state.time) {
  const parts = [];
  if (filter) parts.push(`filter=${encodeURIComponent(JSON.stringify(filter))}`);
  if (layer.time && time) parts.push(`time=${encodeURIComponent(time)}`);
  if (revisions[layer.slug]) parts.push(`v=${revisions[layer.slug]}`);
  return parts.length ? `?${parts.join("&")}` : "";
}

// a filtered layer's tiles carry the filter in their address (the server keys their cache on it)
function vectorLayer(layer, pane, filter = null, time = state.time) {
  const [minZoom, maxZoom] = zoomRange(layer.style, layer.min_zoom); // the style's scale range
  const query = tileQuery(layer, filter, time);
  const grid = L.vectorGrid.protobuf(url("vector_tile", { slug: layer.slug }) + query, {
    pane,
    rendererFactory: L.canvas.tile,
    // the map, not each layer's canvas, takes the pointer (a top canvas would swallow the clicks meant for the
    // layers under it): identify and hover hit-test the features VectorGrid keeps per tile (featureAt)
    interactive: false,
    maxNativeZoom: 20,
    maxZoom, // GridLayer stacks zoom levels by maxZoom: without it an older level may stay on top
    minZoom,
    vectorTileLayerStyles: { [layer.slug]: (properties) => leafletStyle(layer, properties) },
    // ST_AsMVT puts fid in the feature id, not the properties; keep it for identify
    getFeatureId: (feature) => {
      feature.properties.fid = feature.id;
      return feature.id;
    },
    fetchOptions: { credentials: "same-origin" },
  });
  timeTiles(grid);
  return grid;
}

// tile latency as the browser saw it (request to drawn), for the performance report
function timeTiles(grid) {
  const started = {};
  grid.on("tileloadstart", (e) => {
    started[`${e.coords.z}/${e.coords.x}/${e.coords.y}`] = performance.now();
  });
  grid.on("tileload", (e) => {
    const key = `${e.coords.z}/${e.coords.x}/${e.coords.y}`;
    if (started[key] !== undefined) tileTimings.push({ key, ms: performance.now() - started[key], at: performance.now() });
    if (tileTimings.length > 2000) tileTimings.splice(0, 1000); // a map open all day keeps the recent ones
    delete started[key];
  });
}

function overlay(layer) {
  if (layer.kind === "service") return serviceLayer2d(layer, "overlayPane");
  if (layer.kind === "raster") {
    return L.tileLayer(url("raster_tile", { slug: layer.slug }), { maxNativeZoom: 18, maxZoom: 20,
      bounds: L.latLngBounds([[layer.bbox[1], layer.bbox[0]], [layer.bbox[3], layer.bbox[2]]]) });
  }
  return vectorLayer(layer, "overlayPane", state.filters[layer.slug]);
}

// a time-enabled layer drawn at another time than the slider's (null: all its times), with its filter: the
// right side of a swipe comparison
export function layerAtTime(layer, time) {
  return vectorLayer(layer, "overlayPane", state.filters[layer.slug], time);
}

// The feature of a vector layer drawn under a point, from the tile VectorGrid drew it in (the last drawn wins).
export function featureAt(grid, latlng) {
  const z = grid._tileZoom;
  if (z === undefined || !grid._vectorTiles) return null;
  const size = grid.getTileSize();
  const pixel = grid._map.project(latlng, z);
  const coords = pixel.unscaleBy(size).floor();
  coords.z = z;
  const renderer = grid._vectorTiles[grid._tileCoordsToKey(coords)];
  if (!renderer || !renderer._features) return null;
  const local = pixel.subtract(coords.scaleBy(size));
  let hit = null;
  for (const { feature } of Object.values(renderer._features)) {
    if (!feature._pxBounds) feature.makeInteractive(); // VectorGrid's name for "compute the pixel bounds"
    if (feature._containsPoint(local)) hit = feature;
  }
  return hit;
}

// the drawn tiles of a switched-on layer (the attribute table hit-tests its own layer under a click)
export const drawnLayer = (slug) => drawn[slug] || null;

// every switched-on vector layer with a feature under the point, top first (identify lists them all)
export function featuresAt(latlng) {
  const hits = [];
  for (const slug of state.active) {
    const layer = layersBySlug[slug];
    if (layer.kind !== "vector" || !drawn[slug]) continue;
    const feature = featureAt(drawn[slug], latlng);
    if (feature) hits.push({ layer, grid: drawn[slug], feature });
  }
  return hits;
}

// the top-most switched-on vector layer with a feature under the point (what hover outlines)
export function topFeatureAt(latlng) {
  return featuresAt(latlng)[0] || null;
}

export function identifyAndHover(map, isBusy) {
  map.on("click", (e) => {
    if (isBusy()) return;
    const hits = featuresAt(e.latlng);
    if (hits.length) showFeatures(map, hits, e.latlng);
  });
  let hovered = null;
  let pending = null;
  map.on("mousemove", (e) => {
    pending = e.latlng;
    requestAnimationFrame(() => {
      if (!pending) return;
      const hit = topFeatureAt(pending);
      pending = null;
      const id = hit ? hit.feature.properties.fid : null;
      if (hovered && (!hit || hovered.grid !== hit.grid || hovered.id !== id)) {
        hovered.grid.resetFeatureStyle(hovered.id);
        hovered = null;
      }
      if (hit && !hovered) {
        hit.grid.setFeatureStyle(id, HIGHLIGHT);
        hovered = { grid: hit.grid, id };
      }
      map.getContainer().style.cursor = hit ? "pointer" : "";
    });
  });
}

export function syncLayers(map) {
  for (const slug of Object.keys(drawn)) {
    if (!state.active.includes(slug)) {
      map.removeLayer(drawn[slug]);
      delete drawn[slug];
    }
  }
  state.active.forEach((slug, i) => {
    const layer = layersBySlug[slug];
    const filterKey = JSON.stringify([state.filters[slug] || null, layer.time ? state.time : null]);
    if (drawn[slug] && drawnFilter[slug] !== filterKey) {
      map.removeLayer(drawn[slug]);
      delete drawn[slug];
    }
    if (!drawn[slug]) {
      drawn[slug] = overlay(layer).addTo(map);
      drawnFilter[slug] = filterKey;
    }
    drawn[slug].setZIndex(state.active.length - i + 10);
    drawn[slug].setOpacity(state.opacity[slug]);
  });
}

// Draw a layer again from its (changed) style: a new grid, as the scale range may have changed its zooms
export function redrawLayer(map, slug) {
  if (!drawn[slug]) return;
  map.removeLayer(drawn[slug]);
  delete drawn[slug];
  syncLayers(map);
}

// A layer whose features changed (an edit here or another user's, told by the live stream): its tiles fetched anew
export function refreshLayer(map, slug) {
  revisions[slug] = Date.now().toString(36);
  redrawLayer(map, slug);
}

export function followState(map) {
  syncLayers(map);
  subscribe(() => syncLayers(map));
}

export function zoomToLayer(map, slug) {
  const [w, s, e, n] = layersBySlug[slug].bbox;
  map.fitBounds([[s, w], [n, e]]);
}

export { layerTitle };
export { setBasemap } from "./basemaps.js";
