// A dashboard (/dashboards/<slug>/): selectors and widgets over the statistics' indicators, every figure read
// from the indicator values API (/api/v1/stats/indicators/{slug}/values/) with the dashboard's filters. Charts,
// lists, tables and the map are filter sources too: a bar, a row or an area clicked filters every other widget
// (a district: the village widgets show its villages and the figures are the district's; a village: the figures
// are the village's). The filters are in the page's address, so a filtered dashboard is shared by its link.
// Its owners build it here (edit mode): add, move and remove widgets, choose selectors, the refresh interval and who
// may see it. A widget is bound to an indicator, or to a layer or statistical table (a count, sum or mean grouped by
// a field or by district: dashboards.sources); a value of such a grouping clicked filters the widgets over that layer.
// Everyone gets its embed snippet and its PDF (the filters as they are).
import L from "./leaflet-global.js";
import { config, csrfToken, t, url } from "./config.js";
import { createMap } from "./map2d.js";
import { el } from "./panel.js";

const board = config.dashboard;
const spec = board.spec;
const english = config.lang === "en";
const known = { ...(board.all_indicators || {}), ...spec.indicators };
const filter = { town: null, area: null, period: null, category: null, pick: null };
const RAMP = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"];
const boxes = document.getElementById("board");
const bar = document.getElementById("board-bar");
const status = document.getElementById("board-status");
const geometry = new Map(); // boundary slug → GeoJSON promise (read once)
const maps = new Map(); // widget id → {map, layer}
let generation = 0; // a newer drawing makes an older one's late answers moot

// --- numbers and words ---------------------------------------------------------------------------------------------
function info(slug) { return known[slug] || { title: slug, title_en: slug, unit: "", unit_en: "", decimals: 0, periods: [] }; }
function unitOf(slug) { const i = info(slug); return (english ? i.unit_en : i.unit) || ""; }
function titleOf(slug) { const i = info(slug); return english ? i.title_en || i.title : i.title; }
function format(value, decimals = 0) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return new Intl.NumberFormat(english ? "en" : "zh-TW", { minimumFractionDigits: decimals, maximumFractionDigits: decimals }).format(value);
}
function withUnit(value, slug) {
  const unit = unitOf(slug);
  return unit ? `${format(value, info(slug).decimals)} ${unit}` : format(value, info(slug).decimals);
}
function quantityName(code) { return config.strings[`quantity_${code}`] || code; }
function sourceOf(w) { return (spec.sources || {})[w.id] || null; }
function sourceTitle(src) {
  const layer = english ? src.layer_title_en : src.layer_title;
  const what = src.agg === "count" ? t("agg_count") : t(`agg_${src.agg}_of`, { field: english ? src.field_label_en : src.field_label });
  return t("source_title", { layer, what });
}
function widgetTitle(w) {
  if (w.type === "text") return (english && w.title_en) || w.title || "";
  if (w.source) return (english && w.title_en) || w.title || (sourceOf(w) ? sourceTitle(sourceOf(w)) : t("shown_after_saving"));
  if (w.type === "sensor_week") return (english && w.title_en) || w.title || t("week_title", { quantity: quantityName(w.quantity) });
  if (w.type === "coverage") return (english && w.title_en) || w.title || t("type_coverage");
  if (w.type === "sensor") return (english && w.title_en) || w.title || t("sensor_title", { quantity: quantityName(w.quantity) });
  if (w.type === "wifi") return (english && w.title_en) || w.title || t("type_wifi");
  return (english && w.title_en) || w.title || titleOf(indicatorOf(w));
}
function indicatorOf(w) {
  const options = spec.selectors.find((s) => s.kind === "category")?.options || [];
  return w.category && filter.category && options.includes(filter.category) ? filter.category : w.indicator || (w.indicators || [])[0];
}

// --- the values API ------------------------------------------------------------------------------------------------
// every figure a drawing needs comes in one request (/api/v1/dashboards/<slug>/values/ for the filter state: the
// server works out the same queries as the widgets below); a figure it did not bring (a widget added in edit mode,
// not saved yet) is asked of the indicator values API alone. Answers are kept until the next auto-refresh: a filter
// change asks only for what it changes (the bars over every district, the map's every village stay the same).
const answers = new Map(); // key slug~level~period~town~areas → promise of the answer (null: not one the viewer may see)
const LIVE_KEY = /^(src|sensor|sensor_week|wifi|coverage)~/; // answered at every drawing, never held
function keyOf(slug, params) {
  const period = params.period || (filter.period && info(slug).periods.includes(filter.period) ? filter.period : "");
  return [slug, params.level || "area", period, params.town || "", params.areas || ""].join("~");
}
function values(slug, params) {
  const key = keyOf(slug, params);
  if (!answers.has(key)) {
    const [, level, period, town, areas] = key.split("~");
    const query = new URLSearchParams(Object.entries({ level, period, town, areas }).filter(([, v]) => v));
    answers.set(key, fetch(`${url("values", { slug })}?${query}`, { headers: { Accept: "application/json" } }).then((answer) => {
      if (answer.status === 404) return null; // not (or no longer) one the viewer may see: nothing shown, nothing told
      if (!answer.ok) throw new Error(t("request_failed", { status: answer.status }));
      return answer.json();
    }).catch((err) => { answers.delete(key); throw err; }));
  }
  return answers.get(key);
}
async function fetchAll() {
  const query = new URLSearchParams();
  if (filter.town) query.set("town", filter.town.key);
  if (filter.area) query.set("area", filter.area.key);
  if (filter.period) query.set("period", filter.period);
  if (filter.category) query.set("category", filter.category);
  if (filter.pick) query.set("pick", `${filter.pick.layer}|${filter.pick.field}|${filter.pick.value}`);
  for (const key of answers.keys()) if (!LIVE_KEY.test(key)) query.append("have", key);
  try {
    const answer = await fetch(`${url("board_values")}?${query}`, { headers: { Accept: "application/json" } });
    if (!answer.ok) return; // the widgets ask one by one
    for (const [key, data] of Object.entries((await answer.json()).answers)) answers.set(key, Promise.resolve(data));
  } catch { /* the widgets ask one by one */ }
}

// the scope a single figure is for: the village chosen, else the district, else the whole city
function scope() {
  if (filter.area) return { level: "area", areas: filter.area.key };
  if (filter.town) return { level: "town", areas: filter.town.key };
  return { level: "county" };
}
function scopeName() { return filter.area?.name || filter.town?.name || t("whole_city"); }

// --- filters -------------------------------------------------------------------------------------------------------
function setFilter(change) {
  Object.assign(filter, change);
  writeAddress();
  drawSelectors();
  drawAll();
}
function chooseArea(level, row) {
  if (level === "town") {
    const same = filter.town?.key === row.key && !filter.area;
    setFilter({ town: same ? null : { key: row.key, name: row.name }, area: null });
  } else {
    const same = filter.area?.key === row.key;
    setFilter(same ? { area: null } : { area: { key: row.key, name: row.name },
      town: row.town_key ? { key: row.town_key, name: row.town_name } : filter.town });
  }
}
function writeAddress() {
  const params = new URLSearchParams(window.location.search);
  for (const k of ["town", "area", "period", "category", "pick"]) params.delete(k);
  if (filter.town) params.set("town", `${filter.town.key}|${filter.town.name}`);
  if (filter.area) params.set("area", `${filter.area.key}|${filter.area.name}`);
  if (filter.period) params.set("period", filter.period);
  if (filter.category) params.set("category", filter.category);
  if (filter.pick) params.set("pick", [filter.pick.layer, filter.pick.field, filter.pick.value, filter.pick.name].join("|"));
  const query = params.toString();
  window.history.replaceState(null, "", query ? `?${query}` : window.location.pathname);
}
function readAddress() {
  const params = new URLSearchParams(window.location.search);
  const pair = (text) => { if (!text) return null; const i = text.lastIndexOf("|"); return { key: text.slice(0, i), name: text.slice(i + 1) }; };
  filter.town = pair(params.get("town"));
  filter.area = pair(params.get("area"));
  filter.period = params.get("period");
  filter.category = params.get("category");
  const pick = (params.get("pick") || "").split("|");
  filter.pick = pick.length >= 3 ? { layer: pick[0], field: pick[1], value: pick[2], name: pick.slice(3).join("|") || pick[2] } : null;
}

let districts = null; // [{key, name}] of the first indicator, for the district selector
async function drawSelectors() {
  const first = spec.widgets.map(indicatorOf).find(Boolean);
  const controls = [];
  for (const selector of spec.selectors) {
    if (selector.kind === "district" && first) {
      if (!districts) districts = (await values(first, { level: "town" }))?.values || [];
      const select = el("select", { id: "sel-district", onchange: (e) => {
        const row = districts.find((d) => d.key === e.target.value);
        setFilter({ town: row ? { key: row.key, name: row.name } : null, area: null });
      } }, el("option", { value: "" }, t("all_districts")),
      districts.map((d) => el("option", { value: d.key, selected: filter.town?.key === d.key }, d.name)));
      controls.push(el("div", {}, el("label", { for: "sel-district" }, t("district")), select));
    } else if (selector.kind === "period") {
      const periods = [...new Set(spec.widgets.flatMap((w) => (w.indicators || [w.indicator]).filter(Boolean).flatMap((s) => info(s).periods)))].sort();
      const select = el("select", { id: "sel-period", onchange: (e) => setFilter({ period: e.target.value || null }) },
        el("option", { value: "" }, t("latest")), periods.map((p) => el("option", { value: p, selected: filter.period === p }, p)));
      controls.push(el("div", {}, el("label", { for: "sel-period" }, t("period")), select));
    } else if (selector.kind === "category") {
      const label = (english && selector.title_en) || selector.title || t("category");
      const select = el("select", { id: "sel-category", onchange: (e) => setFilter({ category: e.target.value || null }) },
        selector.options.map((s) => el("option", { value: s, selected: (filter.category || selector.options[0]) === s }, titleOf(s))));
      controls.push(el("div", {}, el("label", { for: "sel-category" }, label), select));
    }
  }
  const active = filter.town || filter.area || filter.period || filter.category || filter.pick;
  controls.push(el("button", { type: "button", id: "clear-filters", disabled: !active,
    onclick: () => setFilter({ town: null, area: null, period: null, category: null, pick: null }) }, t("clear_filters")));
  if (board.can_edit) {
    controls.push(el("a", { class: "button", id: "edit-toggle", href: board.edit ? window.location.pathname : "?edit=1" },
      board.edit ? t("done_editing") : t("edit")));
  }
  if (!board.embed) controls.push(el("a", { class: "button", id: "print-pdf", href: pdfAddress(), target: "_blank", rel: "noopener" }, t("print_pdf")));
  bar.replaceChildren(...controls);
  drawShare();
  const what = [filter.town?.name, filter.area?.name, filter.period, filter.pick?.name].filter(Boolean).join(" · ");
  const profile = filter.area || filter.town;
  status.replaceChildren(what ? t("filtered_by", { what }) : t("no_filter"),
    profile ? el("a", { href: url("profile", { level: filter.area ? "area" : "town", key: encodeURIComponent(profile.key) }), id: "profile-link" },
      ` · ${t("profile_of", { name: profile.name })}`) : "",
    board.refresh_seconds ? ` · ${t("refresh_every", { seconds: board.refresh_seconds })}` : "",
    el("span", { id: "updated-at" }));
}

// --- widgets -------------------------------------------------------------------------------------------------------
function frame(w, index) {
  const body = el("div", { class: "widget-body" });
  const box = el("section", { class: `widget w${w.width || 1} type-${w.type}`, id: `widget-${w.id}`, "data-type": w.type,
    "aria-labelledby": `widget-title-${w.id}` }, el("h2", { id: `widget-title-${w.id}` }, widgetTitle(w)), body);
  if (board.edit) box.append(editTools(index));
  return { box, body };
}

function note(body, text) { body.replaceChildren(el("p", { class: "count" }, text)); }

async function kpi(w, body) {
  const slug = indicatorOf(w);
  const now = await values(slug, scope());
  if (!now) return note(body, t("no_data"));
  const value = now.total?.value;
  const periods = info(slug).periods;
  const before = periods[periods.indexOf(now.period) - 1];
  let change = t("no_previous");
  let trend = "";
  if (before && !["change", "change_pct"].includes(info(slug).formula)) {
    const then = await values(slug, { ...scope(), period: before });
    const old = then?.total?.value;
    if (old !== null && old !== undefined && value !== null && value !== undefined) {
      const diff = value - old;
      trend = diff > 0 ? "up" : diff < 0 ? "down" : "flat";
      const sign = diff > 0 ? "+" : diff < 0 ? "−" : "±";
      const pct = old && !unitOf(slug).includes("%") ? t("pct_change", { pct: `${sign}${format(Math.abs(diff / old) * 100, 1)}%` }) : "";
      change = t("change_vs", { period: before, change: `${sign}${withUnit(Math.abs(diff), slug)}${pct}` });
    }
  }
  body.replaceChildren(
    el("p", { class: "kpi-value" }, el("data", { value: value ?? "" }, format(value, info(slug).decimals)), " ",
      el("span", { class: "unit" }, unitOf(slug))),
    el("p", { class: `kpi-change ${trend}` }, change),
    el("p", { class: "count" }, `${scopeName()} · ${now.period || ""}`));
}

async function areaRows(w) {
  const slug = indicatorOf(w);
  const params = { level: w.level || "town" };
  if (params.level === "area" && filter.town) params.town = filter.town.key;
  return { slug, answer: await values(slug, params) };
}
function isChosen(level, row) {
  return level === "town" ? filter.town?.key === row.key : filter.area?.key === row.key;
}

async function bars(w, body) {
  const { slug, answer } = await areaRows(w);
  if (!answer || !answer.values.length) return note(body, t("no_data"));
  const level = w.level || "town";
  const rows = [...answer.values].sort((a, b) => (b.value ?? -Infinity) - (a.value ?? -Infinity)).slice(0, w.limit || 20);
  const top = Math.max(...rows.map((r) => r.value || 0), 1e-9);
  body.replaceChildren(el("p", { class: "count" }, `${t("chart_of", { title: titleOf(slug), unit: unitOf(slug) || "—" })} · ${answer.period || ""}`),
    el("div", { class: "bars", role: "group", "aria-label": titleOf(slug) }, rows.map((r) => el("button", {
      type: "button", class: "bar-row", "aria-pressed": String(isChosen(level, r)), "data-key": r.key,
      onclick: () => chooseArea(level, r) },
    el("span", { class: "bar-label" }, shortName(r, level)),
    el("span", { class: "bar-track" }, el("span", { class: "bar-fill", style: `width:${Math.max(0, (r.value || 0) / top * 100).toFixed(1)}%` })),
    el("span", { class: "bar-value" }, withUnit(r.value, slug))))));
}
function shortName(row, level) {
  // 示範市 中正區 福德里 → 中正區 福德里 at the village level, 中正區 at the district level
  const parts = String(row.name || row.key).split(" ");
  return level === "town" ? parts[parts.length - 1] : parts.slice(-2).join(" ");
}

async function line(w, body) {
  const slug = indicatorOf(w);
  const periods = info(slug).periods;
  const points = [];
  for (const p of periods) {
    const answer = await values(slug, { ...scope(), period: p });
    points.push({ period: p, value: answer?.total?.value ?? null });
  }
  const shown = points.filter((p) => p.value !== null);
  if (!shown.length) return note(body, t("no_data"));
  const W = 360, H = 150, L0 = 56, R = 30, T = 14, B = 26;
  const lo = Math.min(...shown.map((p) => p.value)), hi = Math.max(...shown.map((p) => p.value));
  const span = hi - lo || Math.abs(hi) || 1;
  const x = (i) => L0 + (points.length > 1 ? i / (points.length - 1) : 0.5) * (W - L0 - R);
  const y = (v) => H - B - ((v - (lo - span * 0.1)) / (span * 1.2)) * (H - T - B);
  const node = svgNode;
  const svg = node("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
    "aria-label": t("periods_of", { title: titleOf(slug), values: shown.map((p) => `${p.period} ${withUnit(p.value, slug)}`).join(t("list_sep")) }) });
  svg.append(node("line", { x1: L0, y1: H - B, x2: W - R, y2: H - B, class: "axis" }),
    node("text", { x: L0 - 4, y: y(hi) + 4, "text-anchor": "end" }, format(hi, info(slug).decimals)),
    node("text", { x: L0 - 4, y: y(lo) + 4, "text-anchor": "end" }, format(lo, info(slug).decimals)),
    node("polyline", { points: shown.map((p) => `${x(points.indexOf(p)).toFixed(1)},${y(p.value).toFixed(1)}`).join(" "), class: "series" }));
  points.forEach((p, i) => {
    svg.append(node("text", { x: x(i), y: H - 8, "text-anchor": "middle" }, p.period.slice(0, 7)));
    if (p.value === null) return;
    const dot = node("circle", { cx: x(i), cy: y(p.value), r: 6, class: `dot${filter.period === p.period ? " chosen" : ""}`,
      tabindex: 0, role: "button", "aria-label": `${p.period} ${withUnit(p.value, slug)}` });
    const pick = () => setFilter({ period: filter.period === p.period ? null : p.period });
    dot.addEventListener("click", pick);
    dot.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); pick(); } });
    svg.append(dot);
  });
  body.replaceChildren(el("p", { class: "count" }, `${scopeName()} · ${unitOf(slug) || "—"}`), svg);
}

async function table(w, body) {
  const slugs = w.indicators && w.indicators.length ? w.indicators : [indicatorOf(w)];
  const level = w.level || "town";
  const params = { level };
  if (level === "area" && filter.town) params.town = filter.town.key;
  const answers = await Promise.all(slugs.map((s) => values(s, params)));
  const rows = new Map();
  answers.forEach((answer, i) => (answer?.values || []).forEach((r) => {
    const row = rows.get(r.key) || { ...r, figures: {} };
    row.figures[slugs[i]] = r.value;
    rows.set(r.key, row);
  }));
  if (!rows.size) return note(body, t("no_data"));
  const sorted = [...rows.values()].sort((a, b) => (b.figures[slugs[0]] ?? -Infinity) - (a.figures[slugs[0]] ?? -Infinity))
    .slice(0, w.limit || 100);
  const head = el("tr", {}, el("th", { scope: "col" }, t("area")),
    slugs.map((s) => el("th", { scope: "col", class: "num" }, t("chart_of", { title: titleOf(s), unit: unitOf(s) || "—" }))));
  const body_ = sorted.map((r) => el("tr", { class: isChosen(level, r) ? "chosen" : "", "data-key": r.key },
    el("th", { scope: "row" }, el("button", { type: "button", class: "link", "aria-pressed": String(isChosen(level, r)),
      onclick: () => chooseArea(level, r) }, shortName(r, level))),
    slugs.map((s) => el("td", { class: "num" }, format(r.figures[s], info(s).decimals)))));
  body.replaceChildren(el("div", { class: "table-box" }, el("table", { class: "data" }, el("thead", {}, head), el("tbody", {}, body_))));
}

async function list(w, body) {
  const { slug, answer } = await areaRows(w);
  if (!answer || !answer.values.length) return note(body, t("no_data"));
  const level = w.level || "town";
  const rows = [...answer.values].sort((a, b) => (b.value ?? -Infinity) - (a.value ?? -Infinity)).slice(0, w.limit || 10);
  body.replaceChildren(el("ol", { class: "top-list" }, rows.map((r) => el("li", {},
    el("button", { type: "button", class: "link", "aria-pressed": String(isChosen(level, r)), onclick: () => chooseArea(level, r) },
      shortName(r, level)), " ", el("span", { class: "num" }, withUnit(r.value, slug))))));
}

function shapes(slug) {
  const i = info(slug);
  if (!geometry.has(i.boundary)) {
    geometry.set(i.boundary, fetch(`${url("features", { slug: i.boundary })}?limit=10000&properties=${encodeURIComponent(i.boundary_column || "fid")}`)
      .then((r) => (r.ok ? r.json() : null)));
  }
  return geometry.get(i.boundary);
}

async function mapWidget(w, body, mine) {
  const slug = indicatorOf(w);
  const [answer, shapesOf] = await Promise.all([values(slug, { level: "area" }), shapes(slug)]);
  if (mine !== generation) return;
  if (!answer || !shapesOf) return note(body, t("no_data"));
  const inTown = filter.town ? { values: answer.values.filter((r) => r.town_key === filter.town.key) } : null;
  let entry = maps.get(w.id);
  if (!entry || !body.contains(entry.element)) {
    const element = el("div", { class: "widget-map", role: "application", tabindex: "0", "aria-label": t("chart_of", { title: widgetTitle(w), unit: unitOf(slug) || "—" }) });
    body.replaceChildren(element, el("div", { class: "map-legend" }));
    // SVG, not the page map's canvas: each village is an element of its own (named by its key) to click on
    entry = { element, map: createMap(element), layer: null, renderer: L.svg() }; // no basemap: the areas are the map
    maps.set(w.id, entry);
  }
  const byFid = new Map(answer.values.map((r) => [r.boundary_fid, r]));
  const numbers = answer.values.map((r) => r.value).filter((v) => v !== null).sort((a, b) => a - b);
  const breaks = [1, 2, 3, 4].map((k) => numbers[Math.floor((k * numbers.length) / 5)] ?? Infinity);
  const colour = (v) => (v === null || v === undefined ? "#d9d9d9" : RAMP[breaks.filter((b) => v >= b).length]);
  const inside = inTown ? new Set(inTown.values.map((r) => r.key)) : null;
  if (entry.layer) entry.map.removeLayer(entry.layer);
  entry.layer = L.geoJSON(shapesOf, {
    renderer: entry.renderer,
    style: (f) => {
      const row = byFid.get(f.id);
      const chosen = row && filter.area?.key === row.key;
      const out = inside && (!row || !inside.has(row.key));
      return { color: chosen ? "#0d47a1" : "#555", weight: chosen ? 3 : 0.6, fillColor: colour(row?.value),
        fillOpacity: out ? 0.15 : 0.8, opacity: out ? 0.3 : 1 };
    },
    onEachFeature: (f, layer) => {
      const row = byFid.get(f.id);
      if (!row) return;
      layer.bindTooltip(t("name_value", { name: shortName(row, "area"), value: withUnit(row.value, slug) }), { sticky: true });
      layer.on("click", () => chooseArea("area", row));
      layer.on("add", () => layer.getElement()?.setAttribute("data-key", row.key));
    },
  }).addTo(entry.map);
  const focus = inTown ? L.geoJSON({ type: "FeatureCollection", features: shapesOf.features.filter((f) => inside.has(byFid.get(f.id)?.key)) }) : entry.layer;
  const bounds = focus.getBounds();
  if (bounds.isValid()) entry.map.fitBounds(bounds, { padding: [8, 8] });
  const labels = [numbers[0], ...breaks].map((b, i, all) => (i < 4 ? `${format(b, info(slug).decimals)} – ${format(all[i + 1], info(slug).decimals)}` : `≥ ${format(b, info(slug).decimals)}`));
  body.querySelector(".map-legend").replaceChildren(el("strong", {}, t("chart_of", { title: titleOf(slug), unit: unitOf(slug) || "—" })),
    el("ul", {}, RAMP.map((c, i) => (Number.isFinite(breaks[Math.min(i, 3)]) || i === 0 ? el("li", {}, el("span", { class: "swatch", style: `background:${c}` }), labels[i]) : null))));
}

// --- pie and gauge -------------------------------------------------------------------------------------------------
const NS = "http://www.w3.org/2000/svg";
function svgNode(tag, attrs, text) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  if (text) n.textContent = text;
  return n;
}
const SLICES = ["#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#c62828", "#9e9d24", "#8d6e63"];

// each area's share of the whole (the largest seven and the rest): a slice or its legend entry filters the others
async function pie(w, body) {
  const { slug, answer } = await areaRows(w);
  if (!answer || !answer.values.length) return note(body, t("no_data"));
  const level = w.level || "town";
  const rows = answer.values.filter((r) => r.value > 0).sort((a, b) => b.value - a.value);
  const whole = rows.reduce((sum, r) => sum + r.value, 0);
  if (!whole) return note(body, t("no_data"));
  const shown = rows.slice(0, 7);
  const rest = rows.slice(7).reduce((sum, r) => sum + r.value, 0);
  const slices = [...shown.map((r, i) => ({ row: r, value: r.value, colour: SLICES[i] })),
    ...(rest ? [{ row: null, value: rest, colour: SLICES[7] }] : [])];
  const svg = svgNode("svg", { viewBox: "-1.05 -1.05 2.1 2.1", class: "pie", role: "img",
    "aria-label": t("chart_of", { title: titleOf(slug), unit: unitOf(slug) || "—" }) });
  let angle = -Math.PI / 2;
  for (const s of slices) {
    const turn = (s.value / whole) * 2 * Math.PI;
    const [x1, y1, x2, y2] = [Math.cos(angle), Math.sin(angle), Math.cos(angle + turn), Math.sin(angle + turn)];
    const shape = slices.length === 1 ? svgNode("circle", { r: 1, cx: 0, cy: 0 })
      : svgNode("path", { d: `M0 0 L${x1.toFixed(4)} ${y1.toFixed(4)} A1 1 0 ${turn > Math.PI ? 1 : 0} 1 ${x2.toFixed(4)} ${y2.toFixed(4)} Z` });
    shape.setAttribute("fill", s.colour);
    shape.setAttribute("class", `slice${s.row && isChosen(level, s.row) ? " chosen" : ""}`);
    if (s.row) { shape.dataset.key = s.row.key; shape.addEventListener("click", () => chooseArea(level, s.row)); }
    svg.append(shape);
    angle += turn;
  }
  const pct = (v) => `${format((v / whole) * 100, 1)}%`;
  body.replaceChildren(el("p", { class: "count" }, `${t("chart_of", { title: titleOf(slug), unit: unitOf(slug) || "—" })} · ${answer.period || ""}`),
    el("div", { class: "pie-box" }, svg, el("ul", { class: "pie-legend" }, slices.map((s) => el("li", {},
      el("span", { class: "swatch", style: `background:${s.colour}` }),
      s.row ? el("button", { type: "button", class: "link", "aria-pressed": String(isChosen(level, s.row)), onclick: () => chooseArea(level, s.row) },
        shortName(s.row, level)) : el("span", {}, t("others")),
      " ", el("span", { class: "num" }, `${withUnit(s.value, slug)} · ${pct(s.value)}`))))));
}

// the figure for the city, the district or the village chosen against the widget's target, on a half dial
async function gauge(w, body) {
  const slug = indicatorOf(w);
  const now = await values(slug, scope());
  const value = now?.total?.value;
  if (value === null || value === undefined) return note(body, t("no_data"));
  const target = w.target ?? null;
  const top = w.max ?? (Math.max(value, target ?? 0) * 1.25 || 1);
  const at = (v) => Math.PI * (1 - Math.max(0, Math.min(1, v / top)));
  const point = (a, r) => `${(r * Math.cos(a)).toFixed(3)} ${(-r * Math.sin(a)).toFixed(3)}`;
  const arc = (to, cls) => svgNode("path", { d: `M${point(Math.PI, 0.85)} A0.85 0.85 0 0 1 ${point(to, 0.85)}`, class: cls });
  const reached = target !== null && value >= target;
  const svg = svgNode("svg", { viewBox: "-1.1 -1.05 2.2 1.25", class: "gauge", role: "img",
    "aria-label": t("gauge_of", { title: titleOf(slug), value: withUnit(value, slug), target: target === null ? "—" : withUnit(target, slug) }) });
  svg.append(arc(0, "gauge-track"), arc(at(value), `gauge-value${reached ? " reached" : ""}`));
  if (target !== null) {
    const a = at(target);
    svg.append(svgNode("line", { x1: 0.62 * Math.cos(a), y1: -0.62 * Math.sin(a), x2: 1.05 * Math.cos(a), y2: -1.05 * Math.sin(a), class: "gauge-target" }));
  }
  svg.append(svgNode("text", { x: -0.85, y: 0.17, "text-anchor": "middle" }, format(0, 0)),
    svgNode("text", { x: 0.85, y: 0.17, "text-anchor": "middle" }, format(top, info(slug).decimals)));
  body.replaceChildren(svg,
    el("p", { class: "kpi-value gauge-figure" }, el("data", { value }, format(value, info(slug).decimals)), " ", el("span", { class: "unit" }, unitOf(slug))),
    el("p", { class: `kpi-change${reached ? " up" : ""}` }, target === null ? t("no_target")
      : t("against_target", { target: withUnit(target, slug), pct: `${format((value / target) * 100, 1)}%` })),
    el("p", { class: "count" }, `${scopeName()} · ${now.period || ""}`));
}

// --- live sources: answered by the dashboard's one request at every drawing (a new reading shows at the next refresh)
function when(iso) {
  return iso ? new Date(iso).toLocaleString(english ? "en" : "zh-TW", { hour12: false, year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit" }) : "—";
}
function liveKey(w) {
  if (w.source) return `src~${w.id}`;
  if (w.type === "coverage") return `coverage~${w.id}`;
  return `${w.type}~${w.type === "sensor" || w.type === "sensor_week" ? w.quantity : w.layer}`;
}
async function liveAnswer(w, body) {
  const key = liveKey(w);
  if (!answers.has(key)) { note(body, t("shown_after_saving")); return null; }
  const answer = await answers.get(key);
  if (!answer) note(body, t("no_data"));
  return answer;
}
async function sensor(w, body) {
  const a = await liveAnswer(w, body);
  if (!a) return;
  if (!a.devices) return note(body, t("no_sensors"));
  const unit = a.unit || "";
  body.replaceChildren(
    el("p", { class: "kpi-value" }, el("data", { value: a.mean ?? "" }, format(a.mean, 1)), " ", el("span", { class: "unit" }, unit)),
    el("p", { class: "kpi-change" }, t("sensor_range", { n: format(a.devices), low: `${format(a.min, 1)} ${unit}`, high: `${format(a.max, 1)} ${unit}` })),
    el("p", { class: "count", "data-observed": a.observed_at || "" }, t("newest_reading", { time: when(a.observed_at) }),
      a.stale ? ` · ${t("stale_sensors", { n: format(a.stale), hours: a.stale_after_hours })}` : ""));
}
async function wifi(w, body) {
  const a = await liveAnswer(w, body);
  if (!a) return;
  if (!a.day) return note(body, t("no_data"));
  let change = t("no_previous");
  let trend = "";
  if (a.previous_sessions) {
    const diff = a.sessions - a.previous_sessions;
    trend = diff > 0 ? "up" : diff < 0 ? "down" : "flat";
    const sign = diff > 0 ? "+" : diff < 0 ? "−" : "±";
    change = t("change_vs", { period: a.previous_day, change: `${sign}${format(Math.abs(diff))} ${t("unit_sessions")}${t("pct_change", { pct: `${sign}${format(Math.abs(diff / a.previous_sessions) * 100, 1)}%` })}` });
  }
  body.replaceChildren(
    el("p", { class: "kpi-value" }, el("data", { value: a.sessions }, format(a.sessions)), " ", el("span", { class: "unit" }, t("unit_sessions"))),
    el("p", { class: `kpi-change ${trend}` }, change),
    el("p", { class: "count" }, [t("wifi_day", { day: a.day, n: format(a.hotspots) }),
      a.unique_users !== null ? ` · ${t("unique_users", { n: format(a.unique_users) })}` : "",
      a.traffic_mb !== null ? ` · ${t("traffic_gb", { n: format(a.traffic_mb / 1024, 1) })}` : ""].join("")));
}

// the last week of a quantity's daily means (every reading of the sensors the viewer may see); a day without readings
// is a gap in the line, not bridged
async function sensorWeek(w, body) {
  const a = await liveAnswer(w, body);
  if (!a) return;
  const days = a.days || [];
  const shown = days.filter((d) => d.mean !== null);
  if (!shown.length) return note(body, t("no_sensors"));
  const unit = a.unit || "";
  const W = 360, H = 150, L0 = 44, R = 16, T = 14, B = 26;
  const lo = Math.min(0, ...shown.map((d) => d.mean)), hi = Math.max(...shown.map((d) => d.mean)) || 1;
  const x = (i) => L0 + (days.length > 1 ? i / (days.length - 1) : 0.5) * (W - L0 - R);
  const y = (v) => H - B - ((v - lo) / (hi - lo || 1)) * (H - T - B);
  const svg = svgNode("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
    "aria-label": t("periods_of", { title: widgetTitle(w), values: shown.map((d) => `${d.day} ${format(d.mean, 1)} ${unit}`).join(t("list_sep")) }) });
  svg.append(svgNode("line", { x1: L0, y1: H - B, x2: W - R, y2: H - B, class: "axis" }),
    svgNode("text", { x: L0 - 4, y: y(hi) + 4, "text-anchor": "end" }, format(hi, 1)),
    svgNode("text", { x: L0 - 4, y: y(lo) + 4, "text-anchor": "end" }, format(lo, 0)));
  days.forEach((d, i) => {
    svg.append(svgNode("text", { x: x(i), y: H - 8, "text-anchor": "middle" }, d.day.slice(5)));
    const next = days[i + 1];
    if (d.mean !== null && next && next.mean !== null) {
      svg.append(svgNode("line", { x1: x(i), y1: y(d.mean), x2: x(i + 1), y2: y(next.mean), class: "series" }));
    }
    if (d.mean !== null) {
      const dot = svgNode("circle", { cx: x(i), cy: y(d.mean), r: 3.5, class: "dot point" });
      dot.append(svgNode("title", {}, `${d.day} ${format(d.mean, 1)} ${unit}`));
      svg.append(dot);
    }
  });
  const last = shown[shown.length - 1];
  body.replaceChildren(el("p", { class: "kpi-value" }, el("data", { value: last.mean }, format(last.mean, 1)), " ", el("span", { class: "unit" }, unit)),
    el("p", { class: "count" }, t("week_of", { day: last.day, unit: unit || "—" })), svg);
}

// the share of the people within reach of a facility layer, with its method in words
async function coverage(w, body) {
  const a = await liveAnswer(w, body);
  if (!a) return;
  if (!a.people) return note(body, t("no_data"));
  body.replaceChildren(
    el("p", { class: "kpi-value" }, el("data", { value: a.share }, format(a.share, 1)), " ", el("span", { class: "unit" }, "%")),
    el("p", { class: "kpi-change" }, t("covered_people", { covered: format(a.covered), people: format(a.people) })),
    el("p", { class: "count" }, `${a.district ? scopeName() : t("whole_city")} · ${t("coverage_method", {
      layer: english ? a.layer_title_en : a.layer_title, n: format(a.facilities), distance: format(a.distance_m),
      boundary: english ? a.boundary_title_en : a.boundary_title })}`));
}

// --- widgets over a layer or a statistical table: answered with the dashboard's one request ------------------------
function picked(w, row) {
  if (w.source.by === "district") return filter.town?.key === row.key;
  return filter.pick?.layer === w.source.layer && filter.pick?.field === w.source.by && filter.pick?.value === row.key;
}
function pickRow(w, row) {
  const name = english ? row.name_en : row.name;
  if (w.source.by === "district") return chooseArea("town", { key: row.key, name });
  setFilter({ pick: picked(w, row) ? null : { layer: w.source.layer, field: w.source.by, value: row.key, name } });
}
async function sourceWidget(w, body) {
  const a = await liveAnswer(w, body);
  const src = sourceOf(w);
  if (!a || !src) return;
  const unit = (english ? src.unit_en : src.unit) || "";
  const shown = (v) => (unit ? `${format(v, src.decimals)} ${unit}` : format(v, src.decimals));
  const where = [filter.area?.name || filter.town?.name, filter.pick?.layer === src.layer ? filter.pick.name : null].filter(Boolean).join(" · ") || t("whole_city");
  const label = (r) => (english ? r.name_en : r.name);
  const rows = (a.rows || []).slice(0, w.limit || 20);
  const by = src.by === "district" ? t("district") : english ? src.by_label_en : src.by_label;
  const about = el("p", { class: "count" }, [t("chart_of", { title: sourceTitle(src), unit: unit || "—" }), by ? t("grouped_by", { by }) : "", a.period || ""].filter(Boolean).join(" · "));
  if (w.type === "kpi" || !src.by) {
    return body.replaceChildren(el("p", { class: "kpi-value" }, el("data", { value: a.total.value ?? "" }, format(a.total.value, src.decimals)), " ", el("span", { class: "unit" }, unit)),
      el("p", { class: "kpi-change" }, t("features_counted", { n: format(a.total.count) })), el("p", { class: "count" }, where));
  }
  if (!rows.length) return note(body, t("no_data"));
  const button = (r, content, cls = "link") => el("button", { type: "button", class: cls, "aria-pressed": String(picked(w, r)), "data-key": r.key, onclick: () => pickRow(w, r) }, content);
  if (w.type === "table") {
    return body.replaceChildren(about, el("div", { class: "table-box" }, el("table", { class: "data" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, by), el("th", { scope: "col", class: "num" }, unit ? `${t("value")}（${unit}）` : t("value")), el("th", { scope: "col", class: "num" }, t("features")))),
      el("tbody", {}, rows.map((r) => el("tr", { class: picked(w, r) ? "chosen" : "", "data-key": r.key },
        el("th", { scope: "row" }, button(r, label(r))), el("td", { class: "num" }, format(r.value, src.decimals)), el("td", { class: "num" }, format(r.count))))))));
  }
  if (w.type === "list") {
    return body.replaceChildren(about, el("ol", { class: "top-list" }, rows.map((r) => el("li", {}, button(r, label(r)), " ", el("span", { class: "num" }, shown(r.value))))));
  }
  const whole = rows.reduce((sum, r) => sum + Math.max(0, r.value || 0), 0);
  if (w.type === "pie" && whole) {
    const slices = rows.slice(0, 8);
    const svg = svgNode("svg", { viewBox: "-1.05 -1.05 2.1 2.1", class: "pie", role: "img", "aria-label": sourceTitle(src) });
    let angle = -Math.PI / 2;
    slices.forEach((r, i) => {
      const turn = (Math.max(0, r.value || 0) / whole) * 2 * Math.PI;
      const [x1, y1, x2, y2] = [Math.cos(angle), Math.sin(angle), Math.cos(angle + turn), Math.sin(angle + turn)];
      const shape = turn >= 2 * Math.PI - 1e-9 ? svgNode("circle", { r: 1, cx: 0, cy: 0 })
        : svgNode("path", { d: `M0 0 L${x1.toFixed(4)} ${y1.toFixed(4)} A1 1 0 ${turn > Math.PI ? 1 : 0} 1 ${x2.toFixed(4)} ${y2.toFixed(4)} Z` });
      shape.setAttribute("fill", SLICES[i]);
      shape.setAttribute("class", `slice${picked(w, r) ? " chosen" : ""}`);
      shape.dataset.key = r.key;
      shape.addEventListener("click", () => pickRow(w, r));
      svg.append(shape);
      angle += turn;
    });
    return body.replaceChildren(about, el("div", { class: "pie-box" }, svg, el("ul", { class: "pie-legend" }, slices.map((r, i) => el("li", {},
      el("span", { class: "swatch", style: `background:${SLICES[i]}` }), button(r, label(r)), " ",
      el("span", { class: "num" }, `${shown(r.value)} · ${format(((r.value || 0) / whole) * 100, 1)}%`))))));
  }
  const top = Math.max(...rows.map((r) => Math.abs(r.value || 0)), 1e-9);
  body.replaceChildren(about, el("div", { class: "bars", role: "group", "aria-label": sourceTitle(src) }, rows.map((r) => button(r, [
    el("span", { class: "bar-label" }, label(r)),
    el("span", { class: "bar-track" }, el("span", { class: "bar-fill", style: `width:${(Math.abs(r.value || 0) / top * 100).toFixed(1)}%` })),
    el("span", { class: "bar-value" }, shown(r.value))], "bar-row"))));
}

// --- share: the embed snippet and the PDF of the filters as they are --------------------------------------------------
function pdfAddress() {
  const query = new URLSearchParams();
  if (filter.town) { query.set("town", filter.town.key); query.set("town_name", filter.town.name); }
  if (filter.area) { query.set("area", filter.area.key); query.set("area_name", filter.area.name); }
  if (filter.period) query.set("period", filter.period);
  if (filter.category) query.set("category", filter.category);
  if (filter.pick) query.set("pick", `${filter.pick.layer}|${filter.pick.field}|${filter.pick.value}`);
  const text = query.toString();
  return text ? `${url("pdf")}?${text}` : url("pdf");
}
function drawShare() {
  const print = document.getElementById("print-pdf");
  if (print) print.href = pdfAddress();
  if (board.embed || document.getElementById("share-board")) return;
  const address = url("embed");
  const snippet = `<iframe src="${address}" title="${board.title.replace(/"/g, "&quot;")}" width="100%" height="900" style="border:0" loading="lazy"></iframe>`;
  const code = el("textarea", { id: "embed-code", readonly: true, rows: 3 }, snippet);
  const copied = el("span", { role: "status", id: "embed-copied" });
  const copy = el("button", { type: "button", id: "embed-copy", onclick: async () => {
    code.select();
    try { await navigator.clipboard.writeText(snippet); copied.textContent = t("copied"); } catch { copied.textContent = t("copy_by_hand"); }
  } }, t("copy"));
  status.after(el("details", { id: "share-board", class: "share-board" }, el("summary", {}, t("embed_and_print")),
    el("p", { class: "hint" }, t("embed_note")),
    el("div", {}, el("label", { for: "embed-url" }, t("embed_url")), el("input", { id: "embed-url", readonly: true, value: address })),
    el("div", {}, el("label", { for: "embed-code" }, t("embed_code")), code), el("div", { class: "copy-row" }, copy, copied)));
}

function text(w, body) {
  body.replaceChildren(el("p", {}, (english && w.text_en) || w.text || ""));
}

const DRAW = { kpi, bar: bars, line, table, map: mapWidget, list, text, sensor, wifi, pie, gauge, sensor_week: sensorWeek, coverage };

async function drawAll() {
  const mine = ++generation;
  for (const w of spec.widgets) document.getElementById(`widget-${w.id}`).setAttribute("aria-busy", "true");
  await fetchAll();
  if (mine !== generation) return;
  const jobs = spec.widgets.map(async (w) => {
    const box = document.getElementById(`widget-${w.id}`);
    const live = box.querySelector(".widget-body");
    box.querySelector("h2").textContent = widgetTitle(w);
    // drawn aside and swapped in only if no newer filter came meanwhile (the map checks for itself)
    const body = w.type === "map" ? live : el("div", { class: "widget-body" });
    try {
      await (w.source ? sourceWidget : DRAW[w.type])(w, body, mine);
      if (mine === generation && body !== live) live.replaceWith(body);
    } catch (err) {
      if (mine === generation) note(live, err.message);
    } finally {
      if (mine === generation) box.removeAttribute("aria-busy");
    }
  });
  await Promise.all(jobs);
  if (mine === generation) {
    const stamp = document.getElementById("updated-at");
    if (stamp) stamp.textContent = ` · ${t("updated_at", { time: new Date().toLocaleTimeString(english ? "en" : "zh-TW", { hour12: false }) })}`;
    boxes.dataset.drawn = String(mine);
  }
}

function layout() {
  for (const entry of maps.values()) entry.map.remove();
  maps.clear();
  boxes.replaceChildren(...spec.widgets.map((w, i) => frame(w, i).box));
}

// --- the builder -----------------------------------------------------------------------------------------------------
function editTools(index) {
  const move = (by) => {
    const [w] = spec.widgets.splice(index, 1);
    spec.widgets.splice(Math.max(0, Math.min(spec.widgets.length, index + by)), 0, w);
    rebuild();
  };
  return el("div", { class: "edit-tools" },
    el("button", { type: "button", onclick: () => move(-1), disabled: index === 0 }, t("move_up")),
    el("button", { type: "button", onclick: () => move(1), disabled: index === spec.widgets.length - 1 }, t("move_down")),
    el("button", { type: "button", class: "danger", onclick: () => { spec.widgets.splice(index, 1); rebuild(); } }, t("remove")));
}

function rebuild() { layout(); drawSelectors(); drawAll(); }

function builder() {
  const section = document.getElementById("builder");
  section.hidden = false;
  const slugs = Object.keys(known).sort();
  const field = (id, label, control) => el("div", {}, el("label", { for: id }, label), control);
  const type = el("select", { id: "b-type" }, ["kpi", "bar", "line", "table", "map", "list", "text", "pie", "gauge", "sensor", "sensor_week", "wifi", "coverage"].map((k) => el("option", { value: k }, t(`type_${k}`))));
  // a widget over a layer or a statistical table: its aggregate, grouping and filter
  const layers = board.layers || {};
  const layerTitle = (slug) => (english ? layers[slug].title_en : layers[slug].title);
  const source = el("select", { id: "b-source" }, el("option", { value: "indicator" }, t("source_indicator")), el("option", { value: "layer" }, t("source_layer")));
  const layer = el("select", { id: "b-layer" }, Object.keys(layers).map((slug) => el("option", { value: slug }, layerTitle(slug))));
  const agg = el("select", { id: "b-agg" }, ["count", "sum", "mean"].map((k) => el("option", { value: k }, t(`agg_${k}`))));
  const numeric = el("select", { id: "b-field" });
  const by = el("select", { id: "b-by" });
  const filterField = el("select", { id: "b-filter-field" });
  const filterValue = el("input", { id: "b-filter-value", maxlength: 200 });
  const distance = el("input", { id: "b-distance", type: "number", min: 10, max: 5000, value: 500 });
  const label = (f) => (english ? f.label_en : f.label);
  const fillLayer = () => {
    const chosen = layers[layer.value] || { numeric: [], groups: [], district: false };
    numeric.replaceChildren(...chosen.numeric.map((f) => el("option", { value: f.name }, label(f))));
    by.replaceChildren(el("option", { value: "" }, t("by_none")), chosen.district ? el("option", { value: "district" }, t("by_district")) : "",
      ...chosen.groups.map((f) => el("option", { value: f.name }, label(f))));
    filterField.replaceChildren(el("option", { value: "" }, t("no_filter_field")), ...[...chosen.groups, ...chosen.numeric].map((f) => el("option", { value: f.name }, label(f))));
  };
  layer.addEventListener("change", fillLayer);
  fillLayer();
  const indicator = el("select", { id: "b-indicator" }, slugs.map((s) => el("option", { value: s }, t("chart_of", { title: titleOf(s), unit: unitOf(s) || "—" }))));
  const level = el("select", { id: "b-level" }, el("option", { value: "town" }, t("level_town")), el("option", { value: "area" }, t("level_area")));
  const title = el("input", { id: "b-title", maxlength: 200 });
  const width = el("select", { id: "b-width" }, [1, 2, 3, 4].map((n) => el("option", { value: n }, String(n))));
  const words = el("input", { id: "b-text", maxlength: 2000 });
  const target = el("input", { id: "b-target", type: "number", step: "any" });
  const quantity = el("select", { id: "b-quantity" }, (board.quantities || []).map((q) => el("option", { value: q }, quantityName(q))));
  const category = el("input", { id: "b-category", type: "checkbox" });
  const selectors = ["district", "period"].map((kind) => el("label", { class: "check" },
    el("input", { type: "checkbox", id: `b-sel-${kind}`, checked: spec.selectors.some((s) => s.kind === kind),
      onchange: (e) => {
        spec.selectors = e.target.checked ? [...spec.selectors, { kind }] : spec.selectors.filter((s) => s.kind !== kind);
        drawSelectors();
      } }), ` ${t(kind)}`));
  const refresh = el("input", { id: "b-refresh", type: "number", min: 0, max: 86400, value: board.refresh_seconds });
  const saved = el("span", { role: "status", id: "b-saved" });
  const layerFilter = () => (filterField.value && filterValue.value !== "" ? { op: "and", conditions: [{ attribute: filterField.value, operator: "=", value: filterValue.value }] } : null);
  const add = () => {
    const kind = type.value;
    const widget = { id: `w${Date.now().toString(36)}`, type: kind, width: Number(width.value) };
    if (title.value) widget[english ? "title_en" : "title"] = title.value;
    const overLayer = source.value === "layer" && ["kpi", "bar", "pie", "table", "list"].includes(kind);
    if (overLayer) {
      widget.source = { layer: layer.value, agg: agg.value, by: kind === "kpi" ? "" : by.value };
      if (agg.value !== "count") widget.source.field = numeric.value;
      if (layerFilter()) widget.source.filter = layerFilter();
    } else if (kind === "text") widget[english ? "text_en" : "text"] = words.value;
    else if (kind === "sensor" || kind === "sensor_week") widget.quantity = quantity.value;
    else if (kind === "wifi") widget.layer = "wifi-usage";
    else if (kind === "coverage") Object.assign(widget, { layer: layer.value, distance: Number(distance.value) || 500 }, layerFilter() ? { filter: layerFilter() } : {});
    if (overLayer || ["text", "sensor", "sensor_week", "wifi", "coverage"].includes(kind)) { /* set above */ }
    else if (kind === "gauge" && target.value !== "") widget.target = Number(target.value);
    else Object.assign(widget, { indicator: indicator.value, level: kind === "map" ? "area" : level.value }, category.checked ? { category: true } : {});
    spec.widgets.push(widget);
    title.value = "";
    rebuild();
  };
  // who may see it: the layers' rules (public, internal, restricted to the chosen groups and the owner agency)
  const visibility = el("select", { id: "b-visibility" }, (board.visibilities || []).map(([k, name]) => el("option", { value: k, selected: board.visibility === k }, name)));
  const groups = el("fieldset", { id: "b-groups", class: "checks" }, el("legend", {}, t("allowed_groups")),
    (board.groups || []).map((g) => el("label", { class: "check" }, el("input", { type: "checkbox", name: "allowed_group", value: g, checked: (board.allowed_groups || []).includes(g) }), ` ${g}`)));
  const syncGroups = () => { groups.hidden = visibility.value !== "restricted"; };
  visibility.addEventListener("change", syncGroups);
  syncGroups();
  const save = async () => {
    const body = { spec: { selectors: spec.selectors, widgets: spec.widgets }, refresh_seconds: Number(refresh.value) || 0,
      visibility: visibility.value, allowed_groups: [...groups.querySelectorAll("input:checked")].map((i) => i.value) };
    const answer = await fetch(url("dashboard"), { method: "PUT", headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body) });
    const data = await answer.json().catch(() => ({}));
    if (!answer.ok) { saved.textContent = Object.values(data).flat().join(" ") || t("request_failed", { status: answer.status }); return; }
    board.refresh_seconds = data.refresh_seconds;
    board.visibility = data.visibility;
    Object.assign(known, data.spec.indicators);
    spec.sources = data.spec.sources || {};
    saved.textContent = t("saved");
    startRefresh();
    drawSelectors();
    drawAll(); // a live widget just added is answered by the dashboard's request now that it is saved
  };
  section.replaceChildren(
    el("h2", {}, t("add_widget")),
    el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); add(); } },
      field("b-type", t("widget_type"), type), field("b-source", t("source"), source), field("b-indicator", t("indicator"), indicator), field("b-level", t("level"), level),
      field("b-layer", t("layer_or_table"), layer), field("b-agg", t("aggregate"), agg), field("b-field", t("field"), numeric), field("b-by", t("group_by"), by),
      field("b-filter-field", t("filter_field"), filterField), field("b-filter-value", t("filter_value"), filterValue), field("b-distance", t("distance_m"), distance),
      field("b-quantity", t("quantity"), quantity), field("b-target", t("target"), target), field("b-title", t("widget_title"), title), field("b-width", t("width"), width), field("b-text", t("text"), words),
      el("div", {}, el("label", { class: "check" }, category, ` ${t("follows_category")}`)),
      el("button", { type: "submit", id: "b-add" }, t("add"))),
    el("div", { class: "filters" }, el("div", {}, el("span", { class: "label" }, t("selectors")), el("div", {}, selectors)),
      field("b-refresh", t("refresh_seconds"), refresh), field("b-visibility", t("visibility"), visibility), groups,
      el("button", { type: "button", id: "b-save", onclick: save }, t("save")), saved));
  // only the fields the chosen type (and source) uses
  const show = () => {
    const kind = type.value;
    const sourced = ["kpi", "bar", "pie", "table", "list"].includes(kind);
    const overLayer = sourced && source.value === "layer";
    const own = ["text", "sensor", "sensor_week", "wifi", "coverage"].includes(kind);
    const shown = {
      "b-source": sourced, "b-indicator": !overLayer && !own, "b-level": !overLayer && ["bar", "table", "list", "pie"].includes(kind),
      "b-layer": overLayer || kind === "coverage", "b-agg": overLayer, "b-field": overLayer && agg.value !== "count",
      "b-by": overLayer && kind !== "kpi", "b-filter-field": overLayer || kind === "coverage", "b-filter-value": overLayer || kind === "coverage",
      "b-distance": kind === "coverage", "b-quantity": kind === "sensor" || kind === "sensor_week", "b-target": kind === "gauge", "b-text": kind === "text",
    };
    for (const [id, on] of Object.entries(shown)) document.getElementById(id).parentElement.hidden = !on;
    category.closest("div").hidden = overLayer || own;
  };
  for (const control of [type, source, agg]) control.addEventListener("change", show);
  show();
}

// --- auto-refresh ----------------------------------------------------------------------------------------------------
let timer = null;
function startRefresh() {
  if (timer) clearInterval(timer);
  timer = board.refresh_seconds > 0 ? setInterval(() => {
    if (!document.hidden) { answers.clear(); drawAll(); }
  }, board.refresh_seconds * 1000) : null;
}

readAddress();
if (board.edit) builder();
layout();
drawSelectors();
drawAll();
startRefresh();
