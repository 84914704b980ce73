// Live edits: the server's stream of feature changes (server-sent events, /api/v1/edits/events/) to the layers
// this user may see (signed out: the public layers'). A change to a switched-on layer fetches its tiles anew (only that layer, under a new address
// past the browser's cache) and says so on the status line; the edit tool redraws the feature if it has it open.
// EventSource reconnects by itself when the server ends a stream (about once a minute) or the network drops.
import { config, layersBySlug, layerTitle, t, url } from "./config.js";
import { refreshLayer } from "./map2d.js";
import { state } from "./state.js";

export function startLive(map, status, onChange) {
  if (typeof EventSource === "undefined") return null; // anonymous maps too: the server sends public layers only
  const source = new EventSource(url("edit_events"));
  const pending = new Map();
  const seen = [];
  source.addEventListener("edit", (message) => {
    const event = JSON.parse(message.data);
    seen.push(event);
    if (seen.length > 200) seen.splice(0, 100);
    onChange?.(event);
    if (!state.active.includes(event.layer)) return;
    clearTimeout(pending.get(event.layer)); // several changes at once: one redraw
    pending.set(event.layer, setTimeout(() => {
      pending.delete(event.layer);
      refreshLayer(map, event.layer);
    }, 250));
    if (config.user && event.user !== config.user.name) { // (anonymous readers are not told who edited)
      status.textContent = t(event.fid === null ? "edit_live_batch" : "edit_live_changed", { user: event.user || "?",
        fid: event.fid, n: event.count,
        layer: layersBySlug[event.layer] ? layerTitle(layersBySlug[event.layer]) : event.layer });
    }
  });
  return { source, seen };
}
