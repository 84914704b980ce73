// The view as share links and prints describe it ({center, zoom, mode, bearing, pitch, basemap, layers with their
// filters}), read from the maps, and a stored one put back on them. Zoom is in Leaflet's 256-px levels in both
// views. The time slider's window travels in each time-enabled layer's filter (its `time`, which the server
// applies wherever it reads the filter: the print's map, the shared view's tiles) and comes back to the slider.
import { layersBySlug } from "./config.js";
import { ensureLayers, layerFilter, setActive, setOpacity, setTime, state } from "./state.js";
import { currentBasemap } from "./basemaps.js";

const round = (v, digits) => Number(v.toFixed(digits));

export function currentView({ map, map3d, view }) {
  const three = view === "3d" && map3d;
  const c = three ? map3d.getCenter() : map.getCenter();
  return {
    center: [round(c.lng, 7), round(c.lat, 7)],
    zoom: round(three ? map3d.getZoom() + 1 : map.getZoom(), 3),
    mode: view, bearing: three ? round(map3d.getBearing(), 2) : 0, pitch: three ? round(map3d.getPitch(), 2) : 0,
    basemap: currentBasemap(),
    layers: state.active.map((slug) => ({ slug, opacity: state.opacity[slug], visible: true,
      ...(layerFilter(slug) ? { filter: layerFilter(slug) } : {}) })),
  };
}

// the layers of a stored view, in its order and opacity (the ones this page may not see are left out); their
// entries are fetched first when the page has not loaded them yet
export async function applyLayers(layers) {
  await ensureLayers({ slugs: layers.filter((entry) => entry.visible !== false).map((entry) => entry.slug) })
    .catch(() => {});
  for (const slug of [...state.active]) setActive(slug, false);
  const known = layers.filter((entry) => entry.visible !== false && layersBySlug[entry.slug]);
  for (const slug of Object.keys(state.filters)) delete state.filters[slug];
  let time = null;
  for (const entry of known) {
    if (!entry.filter) continue;
    const { time: window, ...filter } = entry.filter; // the slider's window, kept apart from the layer's filter
    if (window && layersBySlug[entry.slug].time) time = window;
    if (filter.conditions?.length || filter.bbox) state.filters[entry.slug] = filter;
  }
  for (const entry of [...known].reverse()) {
    setOpacity(entry.slug, entry.opacity);
    setActive(entry.slug, true);
  }
  setTime(time); // once its layers are on (the slider lets go of a window while no time-enabled layer is)
}
