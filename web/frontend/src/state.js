// The layers switched on, their draw order (top first) and opacity: one state that both the 2D and the 3D map
// follow, so switching views keeps the same layers.
import { config, layersBySlug, url } from "./config.js";
import { getJSON } from "./api.js";

const listeners = [];
export const state = {
  active: [...config.default_layers],
  opacity: Object.fromEntries(config.layers.map((l) => [l.slug, l.style.opacity ?? 0.8])),
  filters: {}, // slug → {op, conditions, bbox}: what the map, the attribute table, share links and prints show
  time: null, // the time slider's window, ISO 8601 `start/end`, for every time-enabled layer on the map (null: all)
};

// The layers' entries the page has: those it opened with (config.layers) and those fetched since, on demand, from
// /viewer/layers.json (a theme opened, a search, a share link, a tool's lists): the page's size does not grow with
// the catalog. New entries are announced with the `civgis:layers-added` event (the layer tree redraws).
export function addEntries(entries) {
  const fresh = entries.filter((entry) => !layersBySlug[entry.slug]);
  for (const entry of fresh) {
    config.layers.push(entry);
    layersBySlug[entry.slug] = entry;
    state.opacity[entry.slug] = entry.style.opacity ?? 0.8;
  }
  if (fresh.length) document.dispatchEvent(new CustomEvent("civgis:layers-added", { detail: { fresh } }));
  return fresh;
}

// fetches the entries of some layers, some themes' layers or a search's matches; returns them
export async function ensureLayers({ slugs = [], themes = [], q = "" } = {}) {
  const missing = slugs.filter((slug) => !layersBySlug[slug]);
  if (!missing.length && !themes.length && !q) return [];
  const query = new URLSearchParams([...missing.map((s) => ["slug", s]), ...themes.map((s) => ["theme", s]),
    ...(q ? [["q", q]] : [])]);
  const { layers } = await getJSON(`${url("viewer_layers")}?${query}`);
  addEntries(layers);
  return layers;
}

// every layer's entry (once per page, on demand: the tools' layer lists)
let everything = null;
export function allLayers() {
  if (config.layers_complete) return Promise.resolve(config.layers);
  everything ||= getJSON(url("viewer_layers")).then(({ layers }) => {
    addEntries(layers);
    config.layers_complete = true;
    return config.layers;
  }).catch((error) => {
    everything = null;
    throw error;
  });
  return everything;
}

// `fill()` now with the layers the page has, and again once it has every layer (a tool's lists)
export function fillWithAllLayers(fill) {
  fill();
  if (!config.layers_complete) allLayers().then(fill, () => {});
}

export function subscribe(fn) {
  listeners.push(fn);
}

function changed() {
  for (const fn of listeners) fn(state);
}

export function setActive(slug, on) {
  if (on && !layersBySlug[slug] && !config.layers_complete) { // a layer not loaded yet: its entry first
    ensureLayers({ slugs: [slug] }).then(() => layersBySlug[slug] && setActive(slug, true), () => {});
    return;
  }
  const i = state.active.indexOf(slug);
  if (on && i < 0) state.active.unshift(slug);
  if (!on && i >= 0) state.active.splice(i, 1);
  changed();
}

export function moveTo(slug, index) {
  const i = state.active.indexOf(slug);
  if (i < 0) return;
  state.active.splice(i, 1);
  state.active.splice(Math.max(0, Math.min(index, state.active.length)), 0, slug);
  changed();
}

export function setOpacity(slug, value) {
  state.opacity[slug] = value;
  changed();
}

// a layer's filter (null: none); the map redraws the layer's tiles with it
export function setFilter(slug, filter) {
  if (filter) state.filters[slug] = filter;
  else delete state.filters[slug];
  changed();
}

// the time slider's window (null: all time); time-enabled layers redraw their tiles with it
export function setTime(window) {
  if (state.time === window) return;
  state.time = window;
  changed();
}

// what the server is asked to apply to a layer: its filter and, for a time-enabled layer, the slider's window
// (the filter's `time`, as features, statistics, downloads, tiles, share links and prints all read it); null: all
export function layerFilter(slug) {
  const filter = state.filters[slug] || null;
  if (!layersBySlug[slug]?.time || !state.time) return filter;
  return { ...(filter || { op: "and", conditions: [] }), time: state.time };
}
