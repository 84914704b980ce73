// The layer panel: the catalog as a tree of themes (search, checkboxes, zoom to layer, metadata) and the layers
// switched on, in draw order (drag or arrow buttons to reorder, opacity, legend). The tree is loaded lazily: the page
// knows the themes and how many layers each holds, and the entries of the small themes it opens with (the server
// chooses them: a small catalog's tree is whole at once); another theme's layers are fetched when it is opened, and
// the filter box asks the server for its matches.
import { config, layersBySlug, layerTitle, t } from "./config.js";
import { addEntries, ensureLayers, moveTo, setActive, setOpacity, state, subscribe } from "./state.js";
import { isLine, isPoint, symbolUrl } from "./symbology.js";
import { serviceLegendUrl } from "./services.js";
import { attributeTitle, valueLabel } from "./values.js";
import { openLayerDialog } from "./layer-dialog.js";

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== false && value !== undefined) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child !== null) node.append(child);
  return node;
}

function themeName(theme) {
  return config.lang === "en" && theme.name_en ? theme.name_en : theme.name_zh;
}

export function legend(layer) {
  if (layer.kind === "service") {
    const picture = serviceLegendUrl(layer);
    return el("div", { class: "legend" }, picture
      ? el("img", { src: picture, alt: t("legend_of", { layer: layerTitle(layer) }), loading: "lazy" })
      : el("span", {}, layer.source || ""));
  }
  const style = layer.style;
  // a single symbol is named by the layer's title in the page's language (its stored class label is the zh title)
  const classes = style.kind !== "single" && style.classes && style.classes.length ? style.classes
    : [{ label: layerTitle(layer), color: (style.classes && style.classes[0] && style.classes[0].color) || style.fill_color }];
  const shape = layer.kind === "raster" ? "ramp" : isLine(layer) ? "line" : isPoint(layer) ? "point" : "area";
  const title = legendTitle(layer);
  const attribute = style.kind === "categorized" && (layer.attributes || []).find((a) => a.name === style.attribute);
  // a known category value in the page's language (住宅區 → Residential zone); else the class's own label
  const name = (c) => (attribute && attribute.values && attribute.values[String(c.value)]
    ? valueLabel(attribute, c.value) : String(c.label ?? c.value ?? ""));
  const list = el("ul", { class: "legend", "aria-label": t("legend_of", { layer: layerTitle(layer) }) },
    classes.map((c) => el("li", {},
      shape === "point" && style.point_symbol && style.point_symbol !== "circle"
        ? el("img", { class: "swatch symbol", src: symbolUrl(style.point_symbol, c.color, style.stroke_color), alt: "" })
        : el("span", { class: `swatch ${shape}`, style: `--swatch:${c.color};--stroke:${style.stroke_color}`,
          "aria-hidden": "true" }),
      c.no_data ? t("legend_no_data") : c.other ? t("legend_other") : name(c))));
  return title ? el("div", { class: "legend-box" }, el("p", { class: "legend-title" }, title), list) : list;
}

// what a legend of classes shows: "人口密度（人/平方公里）· 分位數" (nothing for a single symbol)
export function legendTitle(layer) {
  const style = layer.style;
  if (style.kind === "single" || !style.attribute) return "";
  const attribute = layer.attributes.find((a) => a.name === style.attribute);
  const title = attribute ? attributeTitle(attribute) : style.attribute;
  return style.kind === "graduated" && style.method ? `${title} · ${t(`method_${style.method}`)}` : title;
}

const NO_THEME = "-"; // /viewer/layers.json?theme=- : the layers in no theme
const loadedThemes = new Set(config.themes.filter((theme) => theme.open).map((theme) => theme.slug));
if (config.loose_loaded) loadedThemes.add(NO_THEME);
const loadingThemes = new Set();
const openThemes = new Set(loadedThemes);
let loadThemes = () => {};

function themesByParent() {
  const byParent = {};
  for (const theme of config.themes) (byParent[theme.parent || ""] ||= []).push(theme);
  return byParent;
}

// how many layers each theme holds with its sub-themes (as the server counted them at page load)
function themeTotals(byParent) {
  const totals = {};
  const total = (theme) => (totals[theme.slug] ??= (theme.layers || 0)
    + (byParent[theme.slug] || []).reduce((sum, child) => sum + total(child), 0));
  for (const theme of config.themes) total(theme);
  return totals;
}

function tree(onZoom, onInfo) {
  const byParent = themesByParent();
  const totals = themeTotals(byParent);
  const layersOf = {};
  for (const layer of config.layers) (layersOf[layer.theme || ""] ||= []).push(layer);
  const loaded = (slug) => config.layers_complete || loadedThemes.has(slug);

  function layerRow(layer) {
    const id = `layer-${layer.slug}`;
    return el("li", { class: "layer-row", "data-slug": layer.slug, "data-search": `${layer.title_zh} ${layer.title_en} ${layer.slug}`.toLowerCase() },
      el("input", { type: "checkbox", id, checked: state.active.includes(layer.slug),
        onchange: (e) => setActive(layer.slug, e.target.checked) }),
      el("label", { for: id }, layerTitle(layer)),
      el("button", { type: "button", class: "icon", title: t("zoom_to_layer"),
        "aria-label": `${t("zoom_to_layer")}：${layerTitle(layer)}`, onclick: () => onZoom(layer.slug) }, "⌖"),
      el("button", { type: "button", class: "icon", title: t("layer_info"),
        "aria-label": `${t("layer_info")}：${layerTitle(layer)}`, onclick: () => onInfo(layer.slug) }, "ⓘ"));
  }

  function branch(theme) {
    const children = (byParent[theme.slug] || []).map(branch).filter(Boolean);
    const rows = (layersOf[theme.slug] || []).map(layerRow);
    if (!children.length && !rows.length && !totals[theme.slug]) return null;
    const waiting = loadingThemes.has(theme.slug)
      ? [el("li", { class: "hint tree-loading", role: "status" }, t("loading"))] : [];
    // opened by the visitor: its layers fetched (a theme opened by a search holds its matches until the filter is
    // cleared)
    const summary = el("summary", { onclick: () => {
      if (!details.open && !loaded(theme.slug) && theme.layers) loadThemes([theme.slug]);
    } }, themeName(theme));
    const details = el("details", { open: openThemes.has(theme.slug) }, summary,
      el("ul", { role: "group" }, ...children, ...rows, ...waiting));
    details.addEventListener("toggle", () => (details.open ? openThemes.add(theme.slug)
      : openThemes.delete(theme.slug)));
    return el("li", { class: "theme", "data-theme": theme.slug }, details);
  }

  const roots = (byParent[""] || []).map(branch).filter(Boolean);
  const loose = (layersOf[""] || []).map(layerRow);
  // layers in no theme, when the page did not come with them: under their own heading, fetched when opened
  const unthemed = !loaded(NO_THEME) && config.loose_layers ? [el("li", { class: "theme", "data-theme": NO_THEME },
    el("details", {}, el("summary", { onclick: () => loadThemes([NO_THEME]) }, t("tree_unthemed")),
      el("ul", { role: "group" }, ...loose, ...(loadingThemes.has(NO_THEME)
        ? [el("li", { class: "hint tree-loading", role: "status" }, t("loading"))] : []))))] : loose;
  return el("ul", { class: "tree" }, ...roots, ...unthemed);
}

function activeItem(slug, index, onZoom, onInfo) {
  const layer = layersBySlug[slug];
  const title = layerTitle(layer);
  const item = el("li", { class: "active-layer", draggable: "true", "data-slug": slug },
    el("div", { class: "row" },
      el("span", { class: "grip", "aria-hidden": "true", title: t("drag_to_reorder") }, "⠿"),
      el("span", { class: "title" }, title),
      el("button", { type: "button", class: "icon", "aria-label": `${t("move_up")}：${title}`, title: t("move_up"),
        disabled: index === 0, onclick: () => moveTo(slug, index - 1) }, "▲"),
      el("button", { type: "button", class: "icon", "aria-label": `${t("move_down")}：${title}`, title: t("move_down"),
        disabled: index === state.active.length - 1, onclick: () => moveTo(slug, index + 1) }, "▼"),
      el("button", { type: "button", class: "icon", "aria-label": `${t("zoom_to_layer")}：${title}`,
        title: t("zoom_to_layer"), onclick: () => onZoom(slug) }, "⌖"),
      el("button", { type: "button", class: "icon", "aria-label": `${t("layer_info")}：${title}`,
        title: t("layer_info"), onclick: () => onInfo(slug) }, "ⓘ"),
      layer.kind === "vector" ? el("button", { type: "button", class: "icon", "data-table": slug,
        "aria-label": `${t("table_open")}：${title}`, title: t("table_open"),
        onclick: () => document.dispatchEvent(new CustomEvent("civgis:attribute-table", { detail: { slug } })) },
      "▦") : null,
      onStyle && (layer.style_editable || (config.style_editable || []).includes(slug))
        ? el("button", { type: "button", class: "icon", "aria-label": `${t("style_edit")}：${title}`,
          title: t("style_edit"), onclick: () => onStyle(slug) }, "◐") : null,
      el("button", { type: "button", class: "icon", "aria-label": `${t("hide_layer")}：${title}`,
        title: t("hide_layer"), onclick: () => setActive(slug, false) }, "✕")),
    state.filters[slug] ? el("p", { class: "filtered-badge" }, t("table_layer_filtered")) : null,
    el("label", { class: "opacity" }, t("opacity"),
      el("input", { type: "range", min: "0", max: "100", value: String(Math.round(state.opacity[slug] * 100)),
        "aria-label": `${t("opacity")}：${title}`,
        oninput: (e) => setOpacity(slug, Number(e.target.value) / 100) })),
    legend(layer));
  item.addEventListener("dragstart", (e) => {
    e.dataTransfer.setData("text/plain", slug);
    item.classList.add("dragging");
  });
  item.addEventListener("dragend", () => item.classList.remove("dragging"));
  item.addEventListener("dragover", (e) => e.preventDefault());
  item.addEventListener("drop", (e) => {
    e.preventDefault();
    moveTo(e.dataTransfer.getData("text/plain"), index);
  });
  return item;
}

// the ⓘ action: the layer dialog (general, attributes, metadata; editable by the layer's editors)
export function showMetadata(slug) {
  openLayerDialog(slug);
}

let redrawTree = () => {};
let onStyle = null; // opens the style editor (main.js), for the layers this user may restyle

// A layer's legend drawn again from its (changed) style
export function refreshLegend(slug) {
  const item = document.querySelector(`.active-layer[data-slug="${CSS.escape(slug)}"]`);
  if (item) item.lastElementChild.replaceWith(legend(layersBySlug[slug]));
}

let redrawActive = () => {};

// A layer's title, theme or attributes changed (the layer dialog saved them): the tree and the list show it now
export function layerChanged() {
  redrawTree();
  redrawActive();
}

// Layers made after the page loaded (analysis results, uploads): into the config and the tree
export function addLayers(entries) {
  return addEntries(entries); // the tree redraws on civgis:layers-added
}

export function buildPanel({ onZoom, onStyleEdit = null }) {
  onStyle = onStyleEdit;
  const treeBox = document.getElementById("layer-tree");
  const activeList = document.getElementById("active-list");
  const filter = document.getElementById("layer-filter");
  redrawTree = () => {
    treeBox.replaceChildren(tree(onZoom, showMetadata));
    filter.dispatchEvent(new Event("input"));
  };
  document.addEventListener("civgis:layers-added", () => redrawTree());
  loadThemes = async (slugs) => {
    const wanted = slugs.filter((slug) => !loadedThemes.has(slug) && !loadingThemes.has(slug));
    if (!wanted.length) return;
    for (const slug of wanted) loadingThemes.add(slug);
    redrawTree(); // "loading" in the themes
    try {
      await ensureLayers({ themes: wanted });
      for (const slug of wanted) loadedThemes.add(slug);
      for (const slug of wanted) loadingThemes.delete(slug);
      redrawTree();
    } catch (error) {
      for (const slug of wanted) loadingThemes.delete(slug);
      for (const node of treeBox.querySelectorAll(".tree-loading")) node.textContent = error.message;
    }
  };
  treeBox.replaceChildren(tree(onZoom, showMetadata));
  // the filter: the rows the page has at once; the server's matches (every theme's) a moment later
  let searched = "";
  let timer = null;
  const search = async (q) => {
    if (q === searched) return;
    searched = q;
    const found = await ensureLayers({ q }).catch(() => []);
    if (searched !== q) return;
    const parentOf = Object.fromEntries(config.themes.map((theme) => [theme.slug, theme.parent]));
    let opened = false;
    for (const entry of found) { // the matches' themes open
      for (let slug = entry.theme; slug; slug = parentOf[slug]) {
        opened ||= !openThemes.has(slug);
        openThemes.add(slug);
      }
    }
    if (opened) redrawTree();
  };
  filter.addEventListener("input", (e) => {
    const q = e.target.value.trim().toLowerCase();
    for (const row of treeBox.querySelectorAll(".layer-row")) row.hidden = q !== "" && !row.dataset.search.includes(q);
    for (const theme of [...treeBox.querySelectorAll(".theme")].reverse()) {
      theme.hidden = q !== "" && ![...theme.querySelectorAll(".layer-row")].some((r) => !r.hidden);
    }
    if (config.layers_complete) return;
    clearTimeout(timer);
    if (q) timer = setTimeout(() => search(q), 250);
    else if (e.isTrusted) { // cleared by the visitor: the open themes a search left half loaded get all layers
      searched = "";
      loadThemes(config.themes.filter((theme) => openThemes.has(theme.slug) && theme.layers).map((theme) => theme.slug));
    }
  });
  const render = () => {
    activeList.replaceChildren(...state.active.map((slug, i) => activeItem(slug, i, onZoom, showMetadata)));
    document.getElementById("active-empty").hidden = state.active.length > 0;
    for (const box of treeBox.querySelectorAll("input[type=checkbox]")) {
      box.checked = state.active.includes(box.id.slice("layer-".length));
    }
  };
  render();
  redrawActive = render;
  // an opacity drag re-renders nothing (keeps the slider's focus); other changes redraw the list
  const shown = () => state.active.join() + JSON.stringify(state.filters); // a filter set or cleared shows too
  let last = shown();
  subscribe(() => {
    if (shown() !== last) {
      last = shown();
      const focused = document.activeElement && document.activeElement.getAttribute("aria-label");
      render();
      if (focused) activeList.querySelector(`[aria-label="${CSS.escape(focused)}"]`)?.focus();
    }
  });
}
