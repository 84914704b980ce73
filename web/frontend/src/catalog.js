// New layers (an overlay or road-widening result, an upload) read from the server and added to the layer tree.
import { layersBySlug } from "./config.js";
import { ensureLayers, setActive } from "./state.js";

// Adds `show` (a layer just made) to the page's layers and the tree, and switches it on (when we may see it)
export async function showNewLayer(show) {
  await ensureLayers({ slugs: [show] });
  if (layersBySlug[show]) setActive(show, true);
  return layersBySlug[show];
}
