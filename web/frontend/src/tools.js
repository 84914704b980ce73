// The working tools on the map, put on the tool bar in the order staff use them; and a shared view (?view=code)
// put back when the page opens with one.
import { createWorkbar } from "./workbar.js";
import { createBufferTool } from "./buffer.js";
import { createOverlayTool } from "./overlay.js";
import { createHotspotTool } from "./hotspots.js";
import { createServiceAreaTool } from "./service-area.js";
import { createWideningTool } from "./widening.js";
import { createUploadTool } from "./upload.js";
import { createMarkersTool } from "./markers.js";
import { createShareTool, restoreSharedView } from "./share.js";
import { createPrintTool } from "./printout.js";
import { createEditTool } from "./edit.js";
import { config, layersBySlug } from "./config.js";
import { setBasemap } from "./map2d.js";

export function startTools({ map, live, switchView, status, zoomTo }) {
  const markers = createMarkersTool(map);
  const tools = [createBufferTool(map, layersBySlug), createOverlayTool(), createHotspotTool(),
    createServiceAreaTool(map),
    // importing new layers is a right of its own: hidden from a signed-in user without it (anonymous visitors are
    // asked to sign in by the tool itself)
    createWideningTool(map), ...(config.user && !config.user.may_import ? [] : [createUploadTool(zoomTo)]),
    markers, createShareTool(live, markers), createPrintTool(live, markers)];
  const edit = createEditTool(map, status); // only for a user who may edit some layer
  if (edit) tools.splice(tools.indexOf(markers), 0, edit);
  const bar = createWorkbar(document.getElementById("workbar"), document.getElementById("tool-panel"), tools);
  const code = new URLSearchParams(location.search).get("view");
  const restored = code ? restoreSharedView(code, { map, switchView, markers, status,
    setBasemap: (id) => setBasemap(map, id) }) : Promise.resolve(null);
  return { bar, markers, restored, edit };
}
