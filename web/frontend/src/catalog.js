// New layers (an overlay or road-widening result, an upload) read from the server and added to the layer tree.
import { layersBySlug, url } from "./config.js";
import { getJSON } from "./api.js";
import { addLayers } from "./panel.js";
import { setActive } from "./state.js";

// Adds the layers the server now lists that the page does not know, and switches `show` on (when we may see it)
export async function showNewLayer(show) {
  addLayers((await getJSON(url("viewer_layers"))).layers);
  if (layersBySlug[show]) setActive(show, true);
  return layersBySlug[show];
}
