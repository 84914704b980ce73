// Basemaps: the one under everything (NLSC's national maps, the platform's own drawn by MapServer with names and
// working offline, any XYZ/WMTS a city adds, or none) and the transparent overlays drawn over it (NLSC's road and
// place names), chosen in a dialog of thumbnails. A choice is written "base" or "base+overlay+…" (share links).
import L from "./leaflet-global.js";
import { config, t } from "./config.js";

const bases = config.basemaps.filter((b) => !b.overlay);
const overlays = config.basemaps.filter((b) => b.overlay);
const byId = Object.fromEntries(config.basemaps.map((b) => [b.id, b]));
const drawn = new Map(); // id → its Leaflet layer, on the map
let chosen = { base: bases[0]?.id ?? "none", overlays: [] };
const listeners = [];
let applied = false; // a basemap was put on the map (a shared view may choose one before the page has loaded)

export function basemapLayer(entry, pane = "basemap") {
  if (!entry.url) return null; // 無底圖: nothing to draw (a tile layer without a URL threw on every zoom)
  return L.tileLayer(entry.url, {
    pane, maxZoom: 20, minNativeZoom: entry.min_zoom || 0, maxNativeZoom: entry.max_zoom || 19,
    attribution: entry.attribution || "", className: `basemap-${entry.id}`,
  });
}

export function currentBasemap() {
  return [chosen.base, ...chosen.overlays].join("+");
}

export function knownBasemap(value) {
  const [base, ...extra] = String(value || "").split("+");
  return bases.some((b) => b.id === base) && extra.every((id) => byId[id]?.overlay);
}

// `value`: "base" or "base+overlay…"; unknown parts are ignored
export function setBasemap(map, value) {
  const [base, ...extra] = String(value || "").split("+");
  chosen = { base: bases.some((b) => b.id === base) ? base : chosen.base,
    overlays: extra.filter((id) => byId[id]?.overlay) };
  applied = true;
  const wanted = [chosen.base, ...chosen.overlays];
  for (const [id, layer] of drawn) {
    if (!wanted.includes(id)) {
      map.removeLayer(layer);
      drawn.delete(id);
    }
  }
  for (const id of wanted) {
    if (drawn.has(id)) continue;
    const layer = basemapLayer(byId[id], byId[id].overlay ? "basemapOverlay" : "basemap");
    if (layer) drawn.set(id, layer.addTo(map));
  }
  for (const listener of listeners) listener();
}

// The basemap's tiles are images, which hold back the page's load event while they come: the data layers (fetched
// vector tiles) come first, the basemap once the page has loaded.
export function startBasemap(map, value, status) {
  const start = () => {
    if (applied) return;
    setBasemap(map, value);
    fallBackWhenUnreachable(map, status);
  };
  if (document.readyState === "complete") start();
  else window.addEventListener("load", start, { once: true });
}

// An online basemap that cannot be reached (an offline site, a blocked network) falls back to the platform's own
// once its first tiles have all failed, and the page says so.
function fallBackWhenUnreachable(map, status) {
  const layer = drawn.get(chosen.base);
  if (!layer || byId[chosen.base].type === "platform" || !byId.platform) return;
  let loaded = 0;
  let failed = 0;
  layer.on("tileload", () => { loaded += 1; });
  layer.on("tileerror", () => {
    failed += 1;
    if (loaded === 0 && failed === 4 && drawn.get(chosen.base) === layer) {
      const name = byId[chosen.base].name;
      setBasemap(map, ["platform", ...chosen.overlays].join("+"));
      status.textContent = t("basemap_unreachable", { name });
    }
  });
}

function thumbnail(entry) {
  if (!entry.thumbnail) return L.DomUtil.create("span", "thumb thumb-none");
  const img = L.DomUtil.create("img", "thumb");
  img.alt = "";
  img.loading = "lazy"; // inside a closed dialog: fetched when it opens
  img.src = entry.thumbnail;
  // unreachable (an offline site, a blocked network): said in words, not the browser's broken-image sign
  img.addEventListener("error", () => img.replaceWith(Object.assign(L.DomUtil.create("span", "thumb thumb-unreachable"),
    { textContent: t("basemap_thumb_unreachable") })), { once: true });
  return img;
}

function choice(entry, type, name) {
  const label = L.DomUtil.create("label", "basemap-choice");
  const input = L.DomUtil.create("input", "", label);
  input.type = type;
  input.name = name;
  input.value = entry.id;
  label.append(thumbnail(entry));
  const text = L.DomUtil.create("span", "basemap-name", label);
  text.textContent = entry.name;
  return label;
}

// The header's button (the current basemap's thumbnail and name) and the dialog it opens.
export function createBasemapSwitcher(button, map) {
  const dialog = L.DomUtil.create("dialog", "basemap-dialog", document.body);
  dialog.id = "basemap-dialog";
  dialog.setAttribute("aria-labelledby", "basemap-dialog-title");
  const title = L.DomUtil.create("h2", "", dialog);
  title.id = "basemap-dialog-title";
  title.textContent = t("basemap_title");
  const baseSet = L.DomUtil.create("fieldset", "basemap-grid", dialog);
  L.DomUtil.create("legend", "visually-hidden", baseSet).textContent = t("basemap_title");
  for (const entry of bases) baseSet.append(choice(entry, "radio", "basemap-base"));
  if (overlays.length) {
    const overSet = L.DomUtil.create("fieldset", "basemap-grid overlays", dialog);
    L.DomUtil.create("legend", "", overSet).textContent = t("basemap_overlays");
    for (const entry of overlays) overSet.append(choice(entry, "checkbox", "basemap-overlay"));
  }
  const actions = L.DomUtil.create("div", "actions", dialog);
  const close = L.DomUtil.create("button", "", actions);
  close.type = "button";
  close.textContent = t("close");
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("change", () => {
    const base = dialog.querySelector("input[name=basemap-base]:checked")?.value ?? chosen.base;
    const extra = [...dialog.querySelectorAll("input[name=basemap-overlay]:checked")].map((i) => i.value);
    setBasemap(map, [base, ...extra].join("+"));
  });
  // a click on the backdrop (outside the dialog's box) closes it, as a tap outside a sheet does on a phone
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
  dialog.addEventListener("close", () => button.setAttribute("aria-expanded", "false"));
  button.setAttribute("aria-haspopup", "dialog");
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", dialog.id);
  button.addEventListener("click", () => {
    dialog.showModal();
    button.setAttribute("aria-expanded", "true");
    dialog.querySelector("input:checked, input")?.focus();
  });

  function show() {
    const entry = byId[chosen.base];
    button.replaceChildren(thumbnail(entry), Object.assign(document.createElement("span"),
      { className: "basemap-name", textContent: entry.name }));
    button.title = `${t("basemap_title")}: ${[entry, ...chosen.overlays.map((id) => byId[id])].map((e) => e.name).join(" + ")}`;
    button.setAttribute("aria-label", button.title);
    button.dataset.value = currentBasemap();
    for (const input of dialog.querySelectorAll("input")) {
      input.checked = input.name === "basemap-base" ? input.value === chosen.base : chosen.overlays.includes(input.value);
    }
  }
  listeners.push(show);
  show();
}
