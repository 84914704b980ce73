// The attribute table: a layer's features as a paged, sortable table docked under the map (full screen on a
// phone), opened from the layer panel (▦). Columns are chosen and titled from the catalog (label and unit), rows
// selected here are highlighted on the map and a feature clicked on the map selects its row; zoom to the
// selection, a column's statistics, the selection (or the filtered features) exported as CSV, GeoJSON or
// GeoPackage. The filter builder filters the table and the map at once (state.filters): the same filter the
// server reads on every path (layers/serving/filters.py), so share links and prints keep it too.
import L from "./leaflet-global.js";
import { layersBySlug, layerTitle, t, url } from "./config.js";
import { layerFilter, setFilter, state, subscribe } from "./state.js";
import { windowText } from "./timeslider.js";
import { attributeTitle, formatValue, valueLabel } from "./values.js";
import { el } from "./panel.js";
import { ApiError, download, errorText } from "./api.js";
import { drawnLayer, featureAt } from "./map2d.js";

const PAGE = 50;
const MAX_HIGHLIGHT = 1000;
const SELECTED = { color: "#00bcd4", weight: 3, fillColor: "#00e5ff", fillOpacity: 0.45, radius: 7 };
// operator → label key; the server reads the symbols and words themselves
const OPERATORS = [["=", "op_eq"], ["≠", "op_ne"], ["<", "op_lt"], ["≤", "op_le"], [">", "op_gt"], ["≥", "op_ge"],
  ["contains", "op_contains"], ["starts with", "op_starts"], ["in", "op_in"], ["between", "op_between"],
  ["is empty", "op_empty"], ["is not empty", "op_not_empty"]];
const TEXT_ONLY = ["contains", "starts with"];
const NO_VALUE = ["is empty", "is not empty"];
const FORMATS = [["csv", "CSV"], ["geojson", "GeoJSON"], ["gpkg", "GeoPackage"]];

const view = { slug: null, offset: 0, sort: "", fields: {}, selected: new Set(), matched: 0, rows: [] };
let map = null;
let box = null;
let highlight = null;
let status = () => {};
let shownFilter = null; // the filter the table shows, to notice one set elsewhere (a share link opened)
let shownTime = null; // the time slider's window the table shows (a time-enabled layer's)

const layer = () => layersBySlug[view.slug];
const attributesOf = (lyr) => lyr.attributes || [];
const shownFields = () => attributesOf(layer()).filter((a) => view.fields[view.slug]?.[a.name] !== false);
const isText = (a) => !["integer", "bigint", "smallint", "double precision", "real", "numeric", "boolean", "date"]
  .includes(a.type) && !String(a.type).startsWith("timestamp");

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== "" && value != null) search.set(key, value);
  const filter = layerFilter(view.slug); // the slider's window too, for a time-enabled layer
  if (filter) search.set("filter", JSON.stringify(filter));
  return search.toString();
}

async function getJSON(path) {
  const response = await fetch(path, { credentials: "same-origin" });
  const body = (response.headers.get("Content-Type") || "").includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(errorText(body, `${response.status} ${response.statusText}`));
  return body;
}

// ---- the table ---------------------------------------------------------------------------------------------

let loads = 0; // the latest page asked for is the one shown (a playing time slider asks for one after another)

async function loadPage() {
  const fields = shownFields().map((a) => a.name).join(",");
  const asked = ++loads;
  const body = await getJSON(`${url("features", { slug: view.slug })}?${query({ limit: PAGE, offset: view.offset,
    sort: view.sort, properties: fields })}`);
  if (asked !== loads || !view.slug) return; // a later page was asked for, or the table was closed meanwhile
  view.rows = body.features;
  view.matched = body.numberMatched;
  renderTable();
}

function sortButton(attribute) {
  const key = attribute.name;
  const order = view.sort === key ? "ascending" : view.sort === `-${key}` ? "descending" : "none";
  const title = attributeTitle(attribute);
  return el("th", { scope: "col", "aria-sort": order, "data-column": key },
    el("button", { type: "button", class: "sort", title: t("table_sort_by", { column: title }),
      onclick: () => {
        view.sort = order === "ascending" ? `-${key}` : `${key}`;
        view.offset = 0;
        loadPage().catch(showError);
      } }, title, el("span", { "aria-hidden": "true" }, order === "ascending" ? " ▲" : order === "descending" ? " ▼" : "")));
}

function renderTable() {
  const fields = shownFields();
  const pageIds = view.rows.map((f) => f.id);
  const allOnPage = pageIds.length > 0 && pageIds.every((id) => view.selected.has(id));
  const head = el("tr", {},
    el("th", { scope: "col", class: "pick" }, el("input", { type: "checkbox", checked: allOnPage,
      "aria-label": t("table_select_page"), onchange: (e) => {
        for (const id of pageIds) (e.target.checked ? view.selected.add(id) : view.selected.delete(id));
        selectionChanged();
      } })),
    ...fields.map(sortButton));
  const rows = view.rows.map((feature) => el("tr", { "data-fid": feature.id,
    class: view.selected.has(feature.id) ? "selected" : "",
    onclick: (e) => { if (e.target.tagName !== "INPUT") toggle(feature.id); } },
  el("td", { class: "pick" }, el("input", { type: "checkbox", checked: view.selected.has(feature.id),
    "aria-label": t("table_select_row", { fid: feature.id }), onchange: () => toggle(feature.id) })),
  ...fields.map((a) => el("td", { class: isText(a) ? "" : "number" }, formatValue(a, feature.properties[a.name])))));
  const table = box.querySelector("table");
  table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
  box.querySelector(".at-empty").hidden = view.rows.length > 0;
  const from = view.rows.length ? view.offset + 1 : 0;
  box.querySelector(".at-page").textContent = t("table_page", { from: from.toLocaleString(),
    to: (view.offset + view.rows.length).toLocaleString(), n: view.matched.toLocaleString() });
  box.querySelector(".at-prev").disabled = view.offset === 0;
  box.querySelector(".at-next").disabled = view.offset + view.rows.length >= view.matched;
  renderCounts();
}

function renderCounts() {
  const n = view.selected.size;
  box.querySelector(".at-count").textContent = [t("table_count", { n: view.matched.toLocaleString() }),
    n ? t("table_selected", { n: n.toLocaleString() }) : ""].filter(Boolean).join("・");
  box.querySelector(".at-zoom").disabled = n === 0;
  box.querySelector(".at-clear").disabled = n === 0;
  box.querySelector(".at-export").textContent = n ? t("table_export_selection", { n: n.toLocaleString() })
    : t("table_export_all", { n: view.matched.toLocaleString() });
  box.querySelector(".at-filtered").hidden = !state.filters[view.slug];
  const time = layerFilter(view.slug)?.time;
  const badge = box.querySelector(".at-time");
  badge.hidden = !time;
  badge.textContent = time ? t("table_time_window", { window: windowText(time) }) : "";
}

function toggle(fid) {
  if (view.selected.has(fid)) view.selected.delete(fid);
  else view.selected.add(fid);
  selectionChanged();
}

// ---- selection ↔ map -----------------------------------------------------------------------------------------

async function selectionChanged() {
  for (const row of box.querySelectorAll("tbody tr")) {
    const on = view.selected.has(Number(row.dataset.fid));
    row.classList.toggle("selected", on);
    row.querySelector("input").checked = on;
  }
  const pageIds = view.rows.map((f) => f.id);
  box.querySelector("thead input").checked = pageIds.length > 0 && pageIds.every((id) => view.selected.has(id));
  renderCounts();
  await drawSelection();
}

async function drawSelection() {
  if (highlight) highlight.clearLayers();
  if (!view.selected.size) return;
  const fids = [...view.selected].slice(0, MAX_HIGHLIGHT);
  const first = attributesOf(layer())[0];
  const search = new URLSearchParams({ fids: fids.join(","), limit: String(fids.length) });
  if (first) search.set("properties", first.name);
  const body = await getJSON(`${url("features", { slug: view.slug })}?${search}`);
  highlight.clearLayers();
  highlight.addData(body);
}

function zoomToSelection() {
  const bounds = highlight.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { maxZoom: 18, padding: [20, 20] });
}

// a feature of the table's layer clicked on the map selects its row, even under another layer (the popup still
// opens for the top one)
function onMapClick(e) {
  if (!view.slug || box.hidden) return;
  const grid = drawnLayer(view.slug);
  const hit = grid && featureAt(grid, e.latlng);
  if (!hit) return;
  const fid = hit.properties.fid;
  toggle(fid);
  box.querySelector(`tbody tr[data-fid="${fid}"]`)?.scrollIntoView({ block: "nearest" });
}

// ---- columns, statistics, export -----------------------------------------------------------------------------

function columnChooser() {
  const chosen = (view.fields[view.slug] ||= {});
  return attributesOf(layer()).map((a) => el("label", {}, el("input", { type: "checkbox",
    checked: chosen[a.name] !== false, "data-column": a.name, onchange: (e) => {
      chosen[a.name] = e.target.checked;
      loadPage().catch(showError);
    } }), attributeTitle(a)));
}

async function showStatistics(name) {
  const out = box.querySelector(".at-stats-out");
  if (!name) {
    out.replaceChildren();
    return;
  }
  const attribute = attributesOf(layer()).find((a) => a.name === name);
  const figures = await getJSON(`${url("statistics", { slug: view.slug })}?${query({ attribute: name })}`);
  if (!view.slug) return;
  const rows = [[t("stat_features"), figures.features.toLocaleString()],
    [t("stat_count"), figures.count.toLocaleString()]];
  for (const key of ["sum", "mean", "min", "max"]) {
    if (figures[key] !== undefined && figures[key] !== null) rows.push([t(`stat_${key}`), formatValue(attribute, figures[key])]);
  }
  if (figures.distinct !== undefined) {
    rows.push([t("stat_distinct"), t("stat_distinct_n", { n: figures.distinct.toLocaleString() })]);
    for (const v of figures.values) rows.push([valueLabel(attribute, v.label ?? v.value), v.count.toLocaleString()]);
  }
  out.replaceChildren(el("dl", {}, rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])));
}

async function exportRows() {
  const format = box.querySelector(".at-format").value;
  const body = { format, ...(format === "csv" ? { labels: "1" } : {}) };
  if (view.selected.size) body.fids = [...view.selected];
  else if (layerFilter(view.slug)) body.filter = layerFilter(view.slug);
  const name = `${view.slug}.${format}`;
  await download(url("download", { slug: view.slug }), body, name);
  status(t("table_exported", { name }));
}

// ---- the filter builder ----------------------------------------------------------------------------------------

function conditionRow(condition = {}) {
  const attributes = attributesOf(layer());
  const attribute = el("select", { class: "f-attribute", "aria-label": t("filter_attribute") },
    attributes.map((a) => el("option", { value: a.name, selected: a.name === condition.attribute }, attributeTitle(a))));
  const operator = el("select", { class: "f-operator", "aria-label": t("filter_operator") });
  const listId = `f-values-${Math.random().toString(36).slice(2)}`;
  const value = el("input", { class: "f-value", list: listId, "aria-label": t("filter_value"), autocomplete: "off" });
  const suggestions = el("datalist", { id: listId });
  const row = el("li", { class: "f-condition" }, attribute, operator, value, suggestions,
    el("button", { type: "button", class: "icon", "aria-label": t("filter_remove"), title: t("filter_remove"),
      onclick: () => row.remove() }, "✕"));
  const refresh = () => {
    const chosen = attributes.find((a) => a.name === attribute.value);
    const keep = operator.value || condition.operator || "=";
    operator.replaceChildren(...OPERATORS.filter(([op]) => isText(chosen) || !TEXT_ONLY.includes(op))
      .map(([op, key]) => el("option", { value: op, selected: op === keep }, `${op.length === 1 ? `${op} ` : ""}${t(key)}`)));
    suggest(chosen, suggestions);
    placeholder();
  };
  const placeholder = () => {
    value.disabled = NO_VALUE.includes(operator.value);
    value.placeholder = operator.value === "in" ? t("filter_value_list") : operator.value === "between"
      ? t("filter_value_range") : t("filter_value");
  };
  attribute.addEventListener("change", () => { condition = {}; value.value = ""; refresh(); });
  operator.addEventListener("change", placeholder);
  refresh();
  if (condition.value !== undefined) value.value = Array.isArray(condition.value) ? condition.value.join(", ") : condition.value;
  return row;
}

// the values an attribute takes (most frequent first), as the value field's suggestions
async function suggest(attribute, list) {
  list.replaceChildren();
  if (!attribute) return;
  try {
    const body = await getJSON(`${url("values", { slug: view.slug })}?attribute=${encodeURIComponent(attribute.name)}`);
    list.replaceChildren(...body.values.map((v) => el("option", { value: v.value },
      String(v.label) !== String(v.value) ? String(v.label) : formatValue(attribute, v.value))));
  } catch {
    // suggestions are a help, not a need
  }
}

function builderSpec() {
  const conditions = [...box.querySelectorAll(".f-condition")].map((row) => {
    const operator = row.querySelector(".f-operator").value;
    const condition = { attribute: row.querySelector(".f-attribute").value, operator };
    const text = row.querySelector(".f-value").value.trim();
    if (NO_VALUE.includes(operator)) return condition;
    condition.value = ["in", "between"].includes(operator) ? text.split(/[,，、]/).map((v) => v.trim()).filter(Boolean)
      : text;
    return condition;
  });
  const spec = { op: box.querySelector(".f-op").value, conditions };
  if (box.querySelector(".f-extent").checked) {
    const b = map.getBounds();
    spec.bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => Number(v.toFixed(6)));
  }
  return spec.conditions.length || spec.bbox ? spec : null;
}

// checked by the server first: a bad filter is said next to the builder, the map keeps what it showed
async function applyFilter() {
  const error = box.querySelector(".f-error");
  error.textContent = "";
  const spec = builderSpec();
  if (spec) {
    try {
      const body = await getJSON(`${url("features", { slug: view.slug })}?${new URLSearchParams({ limit: "1",
        filter: JSON.stringify(spec) })}`);
      status(t("filter_applied", { layer: layerTitle(layer()), n: body.numberMatched.toLocaleString() }));
    } catch (exc) {
      error.textContent = exc.message;
      return;
    }
  } else {
    status(t("filter_cleared", { layer: layerTitle(layer()) }));
  }
  view.offset = 0;
  view.selected.clear();
  shownFilter = JSON.stringify(spec);
  setFilter(view.slug, spec); // the map redraws the layer; the table reloads below
  await drawSelection();
  await loadPage();
  const stat = box.querySelector(".at-stat-column").value;
  if (stat) await showStatistics(stat);
}

function fillBuilder() {
  const spec = state.filters[view.slug];
  const list = box.querySelector(".f-conditions");
  list.replaceChildren(...(spec && spec.conditions.length ? spec.conditions.map(conditionRow) : [conditionRow()]));
  box.querySelector(".f-op").value = spec?.op || "and";
  box.querySelector(".f-extent").checked = Boolean(spec?.bbox);
  box.querySelector(".f-error").textContent = "";
}

// ---- the panel ------------------------------------------------------------------------------------------------

function build() {
  const button = (cls, text, onclick, extra = {}) => el("button", { type: "button", class: cls, onclick, ...extra }, text);
  box = el("section", { id: "attribute-table", hidden: true, "aria-labelledby": "at-title" },
    el("div", { class: "at-resize", role: "separator", tabindex: "0", "aria-orientation": "horizontal",
      "aria-label": t("table_resize"), title: t("table_resize") }),
    el("header", {},
      el("h2", { id: "at-title" }),
      el("span", { class: "at-filtered badge", hidden: true }, t("table_layer_filtered")),
      el("span", { class: "at-time badge", hidden: true }),
      el("span", { class: "at-count", "aria-live": "polite" }),
      el("span", { class: "spacer" }),
      button("at-toggle-filter", t("table_filter"), () => toggleSection(".at-builder"), { "aria-expanded": "false" }),
      el("details", { class: "at-columns" }, el("summary", {}, t("table_columns")), el("div", { class: "at-column-list" })),
      button("at-toggle-stats", t("table_statistics"), () => toggleSection(".at-stats"), { "aria-expanded": "false" }),
      button("at-zoom", t("table_zoom_selection"), zoomToSelection),
      button("at-clear", t("table_clear_selection"), () => { view.selected.clear(); selectionChanged(); }),
      el("label", { class: "visually-hidden", for: "at-format" }, t("table_export_format")),
      el("select", { id: "at-format", class: "at-format" }, FORMATS.map(([v, label]) => el("option", { value: v }, label))),
      button("at-export", t("table_export"), () => exportRows().catch(showError)),
      button("icon at-close", "✕", close, { "aria-label": t("table_close"), title: t("table_close") })),
    el("form", { class: "at-builder", hidden: true, onsubmit: (e) => { e.preventDefault(); applyFilter().catch(showError); } },
      el("label", {}, t("filter_match"), " ", el("select", { class: "f-op" },
        el("option", { value: "and" }, t("filter_all")), el("option", { value: "or" }, t("filter_any")))),
      el("ul", { class: "f-conditions" }),
      el("div", { class: "f-actions" },
        button("f-add", `＋ ${t("filter_add")}`, () => box.querySelector(".f-conditions").append(conditionRow())),
        el("label", {}, el("input", { type: "checkbox", class: "f-extent" }), t("filter_extent")),
        el("button", { type: "submit", class: "primary f-apply" }, t("filter_apply")),
        button("f-clear", t("filter_clear"), () => {
          box.querySelector(".f-conditions").replaceChildren();
          box.querySelector(".f-extent").checked = false;
          applyFilter().then(fillBuilder).catch(showError);
        })),
      el("p", { class: "f-error", role: "alert" })),
    el("div", { class: "at-stats", hidden: true },
      el("label", {}, t("stat_column"), " ", el("select", { class: "at-stat-column",
        onchange: (e) => showStatistics(e.target.value).catch(showError) })),
      el("div", { class: "at-stats-out", "aria-live": "polite" })),
    el("div", { class: "at-scroll" }, el("table", { class: "at-table" }), el("p", { class: "at-empty", hidden: true }, t("table_empty"))),
    el("footer", {},
      button("at-prev", `◀ ${t("table_prev")}`, () => { view.offset = Math.max(0, view.offset - PAGE); loadPage().catch(showError); }),
      el("span", { class: "at-page" }),
      button("at-next", `${t("table_next")} ▶`, () => { view.offset += PAGE; loadPage().catch(showError); })));
  document.getElementById("maps").append(box);
  resizable(box.querySelector(".at-resize"));
  // what floats at the map's bottom (the time slider, the swipe's tags) stays above the table, whatever its height
  new ResizeObserver(() => document.getElementById("maps").style.setProperty("--table-height", `${box.offsetHeight}px`))
    .observe(box);
}

function toggleSection(selector) {
  const section = box.querySelector(selector);
  section.hidden = !section.hidden;
  const toggle = box.querySelector(selector === ".at-builder" ? ".at-toggle-filter" : ".at-toggle-stats");
  toggle.setAttribute("aria-expanded", String(!section.hidden));
}

// the top edge drags the panel's height (arrow keys too); the map keeps at least a strip
function resizable(handle) {
  const setHeight = (px) => {
    const limit = box.parentElement.clientHeight - 60;
    box.style.height = `${Math.max(120, Math.min(limit, px))}px`;
  };
  handle.addEventListener("pointerdown", (e) => {
    handle.setPointerCapture(e.pointerId);
    const startY = e.clientY;
    const startH = box.offsetHeight;
    const move = (m) => setHeight(startH + startY - m.clientY);
    const up = () => { handle.removeEventListener("pointermove", move); handle.removeEventListener("pointerup", up); };
    handle.addEventListener("pointermove", move);
    handle.addEventListener("pointerup", up);
  });
  handle.addEventListener("keydown", (e) => {
    if (e.key === "ArrowUp" || e.key === "ArrowDown") {
      e.preventDefault();
      setHeight(box.offsetHeight + (e.key === "ArrowUp" ? 40 : -40));
    }
  });
}

function showError(exc) {
  status(exc instanceof ApiError ? exc.message : String(exc.message || exc));
}

export async function openTable(slug) {
  if (!box) build();
  const changed = view.slug !== slug;
  view.slug = slug;
  if (changed) {
    view.offset = 0;
    view.sort = "";
    view.selected.clear();
    highlight.clearLayers();
    box.querySelector(".at-stats-out").replaceChildren();
  }
  box.querySelector("#at-title").textContent = t("table_title", { layer: layerTitle(layer()) });
  box.querySelector(".at-column-list").replaceChildren(...columnChooser());
  box.querySelector(".at-stat-column").replaceChildren(el("option", { value: "" }, "—"),
    ...attributesOf(layer()).map((a) => el("option", { value: a.name }, attributeTitle(a))));
  fillBuilder();
  shownFilter = JSON.stringify(state.filters[slug] || null);
  shownTime = layerFilter(slug)?.time || null;
  box.hidden = false;
  document.body.classList.add("table-open");
  await loadPage();
}

function close() {
  box.hidden = true;
  document.body.classList.remove("table-open");
  highlight.clearLayers();
  view.selected.clear();
  view.slug = null;
}

// wired once by main.js: the panel's ▦ buttons, map clicks, a layer switched off or its filter changed elsewhere
export function startAttributeTable(leafletMap, report) {
  map = leafletMap;
  status = report;
  highlight = L.geoJSON(null, { style: () => SELECTED, pointToLayer: (_f, latlng) => L.circleMarker(latlng, SELECTED),
    interactive: false }).addTo(map);
  document.addEventListener("civgis:attribute-table", (e) => openTable(e.detail.slug).catch(showError));
  map.on("click", onMapClick);
  subscribe(() => {
    if (!view.slug || !box || box.hidden) return;
    if (!state.active.includes(view.slug)) {
      close();
      return;
    }
    const now = JSON.stringify(state.filters[view.slug] || null);
    const time = layerFilter(view.slug)?.time || null;
    if (now !== shownFilter || time !== shownTime) {
      if (now !== shownFilter) fillBuilder();
      shownFilter = now;
      shownTime = time; // the slider moved: the table shows the rows of the new window, from its first page
      view.offset = 0;
      loadPage().then(() => {
        const stat = box.querySelector(".at-stat-column").value;
        return stat ? showStatistics(stat) : null;
      }).catch(showError);
    }
    renderCounts();
  });
  return { open: openTable, close, view, highlighted: () => highlight.getLayers().length,
    highlightBounds: () => highlight.getBounds() };
}
