// Identify: the attributes of what lies under a click in every switched-on layer (one tab per layer, top layer
// first), read in full from the features API (tiles below zoom 14 carry only a few), shown with the layer's
// attribute labels and each value with its unit, in the page's language.
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
  return showFeatures(map, [{ layer, feature: { properties: tileProperties } }], latlng);
}

let tabCount = 0;

// one popup, a tab per layer hit (top layer first); a tab's attributes are read when it is first opened
export async function showFeatures(map, hits, latlng) {
  const box = document.createElement("div");
  box.className = "identify-tabs";
  const bar = document.createElement("div");
  bar.setAttribute("role", "tablist");
  bar.setAttribute("aria-label", t("identify_layers", { n: hits.length }));
  box.append(bar);
  const id = ++tabCount;
  const loaded = new Map();
  const tabs = hits.map((hit, i) => {
    const tab = document.createElement("button");
    tab.type = "button";
    tab.id = `identify-${id}-tab-${i}`;
    tab.dataset.slug = hit.layer.slug;
    tab.setAttribute("role", "tab");
    tab.setAttribute("aria-controls", `identify-${id}-panel-${i}`);
    tab.textContent = layerTitle(hit.layer);
    const panel = document.createElement("div");
    panel.id = `identify-${id}-panel-${i}`;
    panel.setAttribute("role", "tabpanel");
    panel.setAttribute("aria-labelledby", tab.id);
    panel.dataset.slug = hit.layer.slug;
    bar.append(tab);
    box.append(panel);
    return { tab, panel, hit };
  });
  let popup = null;
  async function select(k) {
    tabs.forEach(({ tab, panel }, i) => {
      tab.setAttribute("aria-selected", String(i === k));
      tab.tabIndex = i === k ? 0 : -1;
      panel.hidden = i !== k;
    });
    const { panel, hit } = tabs[k];
    if (!loaded.has(k)) {
      loaded.set(k, true);
      panel.innerHTML = loadingContent(hit.layer);
      panel.innerHTML = await featureContent(hit.layer, hit.feature.properties.fid, hit.feature.properties);
    }
    // the popup grew once the attributes came: lay it out again, panning the map so it is all in view
    if (popup.isOpen()) popup.update();
  }
  tabs.forEach(({ tab }, i) => {
    tab.addEventListener("click", () => select(i));
    tab.addEventListener("keydown", (e) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (!step) return;
      const next = (i + step + tabs.length) % tabs.length;
      tabs[next].tab.focus();
      select(next);
    });
  });
  if (hits.length === 1) bar.hidden = true; // one layer: no tabs needed
  popup = L.popup({ maxWidth: 380, maxHeight: 340, className: "identify" }).setLatLng(latlng).setContent(box)
    .openOn(map);
  await select(0);
}
