// A dashboard (/dashboards/<slug>/): selectors and widgets over the statistics' indicators, every figure read
// from the indicator values API (/api/v1/stats/indicators/{slug}/values/) with the dashboard's filters. Charts,
// lists, tables and the map are filter sources too: a bar, a row or an area clicked filters every other widget
// (a district: the village widgets show its villages and the figures are the district's; a village: the figures
// are the village's). The filters are in the page's address, so a filtered dashboard is shared by its link.
// Its owners build it here (edit mode): add, move and remove widgets, choose selectors and the refresh interval.
import L from "./leaflet-global.js";
import { config, csrfToken, t, url } from "./config.js";
import { createMap } from "./map2d.js";
import { el } from "./panel.js";

const board = config.dashboard;
const spec = board.spec;
const english = config.lang === "en";
const known = { ...(board.all_indicators || {}), ...spec.indicators };
const filter = { town: null, area: null, period: null, category: null };
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
function widgetTitle(w) {
  if (w.type === "text") return (english && w.title_en) || w.title || "";
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
  for (const key of answers.keys()) query.append("have", key);
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
  for (const k of ["town", "area", "period", "category"]) params.delete(k);
  if (filter.town) params.set("town", `${filter.town.key}|${filter.town.name}`);
  if (filter.area) params.set("area", `${filter.area.key}|${filter.area.name}`);
  if (filter.period) params.set("period", filter.period);
  if (filter.category) params.set("category", filter.category);
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
  const active = filter.town || filter.area || filter.period || filter.category;
  controls.push(el("button", { type: "button", id: "clear-filters", disabled: !active,
    onclick: () => setFilter({ town: null, area: null, period: null, category: null }) }, t("clear_filters")));
  if (board.can_edit) {
    controls.push(el("a", { class: "button", id: "edit-toggle", href: board.edit ? window.location.pathname : "?edit=1" },
      board.edit ? t("done_editing") : t("edit")));
  }
  bar.replaceChildren(...controls);
  const what = [filter.town?.name, filter.area?.name, filter.period].filter(Boolean).join(" · ");
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
async function liveAnswer(w, body) {
  const key = `${w.type}~${w.type === "sensor" ? w.quantity : w.layer}`;
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

function text(w, body) {
  body.replaceChildren(el("p", {}, (english && w.text_en) || w.text || ""));
}

const DRAW = { kpi, bar: bars, line, table, map: mapWidget, list, text, sensor, wifi, pie, gauge };

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
      await DRAW[w.type](w, body, mine);
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
  const type = el("select", { id: "b-type" }, ["kpi", "bar", "line", "table", "map", "list", "text", "pie", "gauge", "sensor", "wifi"].map((k) => el("option", { value: k }, t(`type_${k}`))));
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
  const add = () => {
    const kind = type.value;
    const widget = { id: `w${Date.now().toString(36)}`, type: kind, width: Number(width.value) };
    if (title.value) widget[english ? "title_en" : "title"] = title.value;
    if (kind === "text") widget[english ? "text_en" : "text"] = words.value;
    else if (kind === "sensor") widget.quantity = quantity.value;
    else if (kind === "wifi") widget.layer = "wifi-usage";
    if (kind === "gauge" && target.value !== "") widget.target = Number(target.value);
    else Object.assign(widget, { indicator: indicator.value, level: kind === "map" ? "area" : level.value }, category.checked ? { category: true } : {});
    spec.widgets.push(widget);
    title.value = "";
    rebuild();
  };
  const save = async () => {
    const body = { spec: { selectors: spec.selectors, widgets: spec.widgets }, refresh_seconds: Number(refresh.value) || 0 };
    const answer = await fetch(url("dashboard"), { method: "PUT", headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body) });
    const data = await answer.json().catch(() => ({}));
    if (!answer.ok) { saved.textContent = Object.values(data).flat().join(" ") || t("request_failed", { status: answer.status }); return; }
    board.refresh_seconds = data.refresh_seconds;
    Object.assign(known, data.spec.indicators);
    saved.textContent = t("saved");
    startRefresh();
    drawSelectors();
    drawAll(); // a live widget just added is answered by the dashboard's request now that it is saved
  };
  section.replaceChildren(
    el("h2", {}, t("add_widget")),
    el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); add(); } },
      field("b-type", t("widget_type"), type), field("b-indicator", t("indicator"), indicator), field("b-level", t("level"), level),
      field("b-quantity", t("quantity"), quantity), field("b-target", t("target"), target), field("b-title", t("widget_title"), title), field("b-width", t("width"), width), field("b-text", t("text"), words),
      el("div", {}, el("label", { class: "check" }, category, ` ${t("follows_category")}`)),
      el("button", { type: "submit", id: "b-add" }, t("add"))),
    el("div", { class: "filters" }, el("div", {}, el("span", { class: "label" }, t("selectors")), el("div", {}, selectors)),
      field("b-refresh", t("refresh_seconds"), refresh),
      el("button", { type: "button", id: "b-save", onclick: save }, t("save")), saved));
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
