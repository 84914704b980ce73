// The layer panel: the catalog as a tree of themes (search, checkboxes, zoom to layer, metadata) and the layers
// switched on, in draw order (drag or arrow buttons to reorder, opacity, legend).
import { config, layersBySlug, layerTitle, t } from "./config.js";
import { moveTo, setActive, setOpacity, state, subscribe } from "./state.js";
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

function tree(onZoom, onInfo) {
  const byParent = {};
  for (const theme of config.themes) (byParent[theme.parent || ""] ||= []).push(theme);
  const layersOf = {};
  for (const layer of config.layers) (layersOf[layer.theme || ""] ||= []).push(layer);

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
    if (!children.length && !rows.length) return null;
    return el("li", { class: "theme" }, el("details", { open: true }, el("summary", {}, themeName(theme)),
      el("ul", { role: "group" }, ...children, ...rows)));
  }

  const roots = (byParent[""] || []).map(branch).filter(Boolean);
  const loose = (layersOf[""] || []).map(layerRow);
  return el("ul", { class: "tree" }, ...roots, ...loose);
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
      onStyle && (config.style_editable || []).includes(slug)
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
  const fresh = entries.filter((entry) => !layersBySlug[entry.slug]);
  for (const entry of fresh) {
    config.layers.push(entry);
    layersBySlug[entry.slug] = entry;
    state.opacity[entry.slug] = entry.style.opacity ?? 0.8;
  }
  if (fresh.length) redrawTree();
  return fresh;
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
  treeBox.replaceChildren(tree(onZoom, showMetadata));
  filter.addEventListener("input", (e) => {
    const q = e.target.value.trim().toLowerCase();
    for (const row of treeBox.querySelectorAll(".layer-row")) row.hidden = q !== "" && !row.dataset.search.includes(q);
    for (const theme of [...treeBox.querySelectorAll(".theme")].reverse()) {
      theme.hidden = ![...theme.querySelectorAll(".layer-row")].some((r) => !r.hidden);
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
