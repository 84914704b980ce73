// The view as share links and prints describe it ({center, zoom, mode, bearing, pitch, basemap, layers with their
// filters}), read
// from the maps, and a stored one put back on them. Zoom is in Leaflet's 256-px levels in both views.
import { layersBySlug } from "./config.js";
import { setActive, setOpacity, state } from "./state.js";
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
      ...(state.filters[slug] ? { filter: state.filters[slug] } : {}) })),
  };
}

// the layers of a stored view, in its order and opacity (the ones this page does not know are left out)
export function applyLayers(layers) {
  for (const slug of [...state.active]) setActive(slug, false);
  const known = layers.filter((entry) => entry.visible !== false && layersBySlug[entry.slug]);
  for (const slug of Object.keys(state.filters)) delete state.filters[slug];
  for (const entry of known) if (entry.filter) state.filters[entry.slug] = entry.filter;
  for (const entry of [...known].reverse()) {
    setOpacity(entry.slug, entry.opacity);
    setActive(entry.slug, true);
  }
}
