// Identify: a clicked feature's attributes, read in full from the features API (tiles below zoom 14 carry only
// a few), shown with the layer's attribute labels and each value with its unit, in the page's language.
import L from "./leaflet-global.js";
import { layerTitle, t, url } from "./config.js";
import { attributeLabel, formatValue } from "./values.js";

function escape(text) {
  const div = document.createElement("div");
  div.textContent = text === null || text === undefined ? "—" : String(text);
  return div.innerHTML;
}

export function attributeTable(layer, properties) {
  const rows = layer.attributes
    .filter((a) => a.name in properties)
    .map((a) => `<tr data-attribute="${escape(a.name)}"><th scope="row">${escape(attributeLabel(a))}</th>`
      + `<td>${escape(formatValue(a, properties[a.name]))}</td></tr>`);
  return `<table class="attributes">${rows.join("")}</table>`;
}

export const loadingContent = (layer) => `<h3>${escape(layerTitle(layer))}</h3><p>${escape(t("loading"))}</p>`;

// The popup's content: every attribute of the feature, or the tile's own when the API cannot be reached.
export async function featureContent(layer, fid, tileProperties) {
  let properties = tileProperties;
  try {
    const response = await fetch(url("feature", { slug: layer.slug, fid }), { credentials: "same-origin" });
    if (response.ok) properties = (await response.json()).properties;
  } catch {
    // the tile's own attributes are still worth showing
  }
  return `<h3>${escape(layerTitle(layer))}</h3>${attributeTable(layer, properties)}`;
}

export async function showFeature(map, layer, tileProperties, latlng) {
  const popup = L.popup({ maxWidth: 360, maxHeight: 320, className: "identify" })
    .setLatLng(latlng).setContent(loadingContent(layer)).openOn(map);
  popup.setContent(await featureContent(layer, tileProperties.fid, tileProperties));
}
