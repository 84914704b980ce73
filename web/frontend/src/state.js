// The layers switched on, their draw order (top first) and opacity: one state that both the 2D and the 3D map
// follow, so switching views keeps the same layers.
import { config, layersBySlug } from "./config.js";

const listeners = [];
export const state = {
  active: [...config.default_layers],
  opacity: Object.fromEntries(config.layers.map((l) => [l.slug, l.style.opacity ?? 0.8])),
  filters: {}, // slug → {op, conditions, bbox}: what the map, the attribute table, share links and prints show
  time: null, // the time slider's window, ISO 8601 `start/end`, for every time-enabled layer on the map (null: all)
};

export function subscribe(fn) {
  listeners.push(fn);
}

function changed() {
  for (const fn of listeners) fn(state);
}

export function setActive(slug, on) {
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
