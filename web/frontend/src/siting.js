// 公有場館選址 at /siting/: a wizard that builds the siting job's request (facility kind and the existing ones,
// constraints, factor weights, demand, allocation), runs the job with its progress, then shows the chosen sites
// and ranked candidates on the map, covered demand, the marginal gain of each site and, for a candidate, what
// each factor contributed to its score.
import L from "./leaflet-global.js";
import { config, layerTitle, numberFormat, t, url } from "./config.js";
import { getJSON } from "./api.js";
import { runJob } from "./jobs.js";
import { barChart } from "./chart.js";
import { addNumberedSite, createPageMap, setLegend } from "./pagemap.js";
import { createWizard } from "./wizard.js";
import { el } from "./panel.js";
import { chosenValues, choicesFor, defaultAttribute, defaultFor, fillAttributes, fillLayers, layerOf,
  valuesOf } from "./pickers.js";

const $ = (id) => document.getElementById(id);
const map = createPageMap($("map"));
const wizard = createWizard($("wizard"));
const FACTORS = ["roads", "population", "existing", "land_value"];
const SHOWN_CANDIDATES = 300;
const RAMP = ["#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704"]; // score 0 → 1
const drawn = L.layerGroup().addTo(map);
const page = { job: null, candidates: [], names: {} };
// scores and contributions are 0–1: three decimals tell the best candidates apart
const scoreFormat = new Intl.NumberFormat(config.lang === "en" ? "en" : "zh-TW", { maximumFractionDigits: 3 });

// weights: each slider tells its value beside it
for (const name of [...FACTORS, "category"]) {
  const slider = $(`w-${name}`);
  const shown = () => { $(`w-${name}-value`).value = slider.value; };
  slider.addEventListener("input", shown);
  shown();
}

// a select's choice, or null when it offers nothing (e.g. no point layer the user may see)
const chosen = (id) => $(id).value || null;

// step 1: the existing facilities (a point layer, filtered by one of its categories) and the candidates (any
// polygon or point layer, the categories ticked)
async function fillKinds() {
  const slug = chosen("existing-layer");
  const attribute = chosen("existing-attribute");
  const values = slug && attribute ? await valuesOf(slug, attribute) : [];
  const first = chosenValues(slug, attribute)[0];
  $("facility-kind").replaceChildren(el("option", { value: "" }, t("all_features")), ...values.map((v) => el("option",
    { value: v.value, selected: v.value === first, "data-label": v.label },
    t("attribute_with_unit", { label: v.label, unit: t("existing_count", { n: numberFormat.format(v.count) }) }))));
}

async function fillCandidateValues() {
  const slug = chosen("candidates-layer");
  const attribute = chosen("candidates-attribute");
  const values = slug && attribute ? await valuesOf(slug, attribute) : [];
  const ticked = chosenValues(slug, attribute);
  $("candidate-values").replaceChildren(...values.map((v) => el("label", { class: "check" },
    el("input", { type: "checkbox", name: "candidate_value", value: v.value, checked: ticked.includes(v.value) }),
    ` ${v.label}`)));
  $("candidate-values-box").hidden = !values.length;
}

function whenChanged(id, fill) {
  $(id).addEventListener("change", () => fill().catch((err) => { $("run-error").textContent = err.message; }));
}

function pickExisting() {
  fillAttributes($("existing-attribute"), chosen("existing-layer"), "filter",
    { selected: defaultAttribute("existing_filter"), none: t("no_filter") });
  return fillKinds();
}

// the candidates' own attributes: the filter, the attribute factor and the category factor
function pickCandidates() {
  const slug = chosen("candidates-layer");
  fillAttributes($("candidates-attribute"), slug, "filter", { selected: defaultAttribute("candidates_filter"),
    none: t("no_filter") });
  fillAttributes($("score-attribute"), slug, "score", { selected: defaultAttribute("score") });
  fillAttributes($("category-attribute"), slug, "category", { none: t("no_category_factor") });
  fillExclusions();
  return Promise.all([fillCandidateValues(), fillCategoryScores()]);
}

// step 2: any polygon layer may exclude (the demo's flood zones ticked), said in terms of the candidates
function fillExclusions() {
  const ticked = new Set([...document.querySelectorAll("input[name=exclude_layer]:checked")].map((b) => b.value));
  const first = !document.querySelector("input[name=exclude_layer]");
  const parcels = (layerOf(chosen("candidates-layer"))?.geometry_type || "").includes("Polygon");
  $("exclude-layers").replaceChildren(...choicesFor("constraints").filter((s) => s !== chosen("candidates-layer"))
    .map((slug) => el("label", { class: "check" }, el("input", { type: "checkbox", name: "exclude_layer", value: slug,
      checked: first ? defaultFor("constraints").includes(slug) : ticked.has(slug) }),
    ` ${t(parcels ? "exclude_parcels_in" : "exclude_candidates_in", { layer: layerTitle(layerOf(slug)) })}`)));
}

// step 3, advanced: a score per category of the candidates (0–1), all 1 at first
async function fillCategoryScores() {
  const slug = chosen("candidates-layer");
  const attribute = chosen("category-attribute");
  const values = slug && attribute ? await valuesOf(slug, attribute) : [];
  $("category-scores").replaceChildren(...values.map((v, i) => el("div", { class: "score" },
    el("label", { for: `category-score-${i}` }, v.label),
    el("input", { id: `category-score-${i}`, type: "number", min: "0", max: "1", step: "0.1", value: "1",
      "data-value": v.value }))));
}

// step 4: demand sources, each a layer with a count attribute, optionally filtered by a category, times a scale
let demandRows = 0;
function addDemandSource(slug = defaultFor("demand")) {
  const i = demandRows++;
  const id = (name) => `demand-${name}-${i}`;
  const row = el("fieldset", { class: "demand-source", "data-source": String(i) },
    el("legend", {}, t("demand_source", { n: String(document.querySelectorAll(".demand-source").length + 1) })),
    el("label", { for: id("layer") }, t("demand_layer")), el("select", { id: id("layer"), "data-part": "layer" }),
    el("label", { for: id("attribute") }, t("demand_attribute")),
    el("select", { id: id("attribute"), "data-part": "attribute" }),
    el("label", { for: id("filter-attribute") }, t("demand_filter_attribute")),
    el("select", { id: id("filter-attribute"), "data-part": "filter-attribute" }),
    el("label", { for: id("filter-value") }, t("demand_filter_value")),
    el("select", { id: id("filter-value"), "data-part": "filter-value" }),
    el("label", { for: id("scale") }, t("demand_scale")),
    el("input", { id: id("scale"), "data-part": "scale", type: "number", min: "0", step: "any", value: "1" }));
  if (i > 0) {
    row.append(el("button", { type: "button", class: "link", onclick: () => { row.remove(); renumberDemand(); } },
      t("remove_demand_source")));
  }
  $("demand-sources").append(row);
  const part = (name) => row.querySelector(`[data-part=${name}]`);
  const fillValues = async () => {
    const attribute = part("filter-attribute").value;
    const values = attribute ? await valuesOf(part("layer").value, attribute) : [];
    part("filter-value").replaceChildren(...values.map((v) => el("option", { value: v.value }, v.label)));
    part("filter-value").disabled = !values.length;
  };
  const fillLayerParts = () => {
    fillAttributes(part("attribute"), part("layer").value, "demand", { selected: defaultAttribute("demand") });
    fillAttributes(part("filter-attribute"), part("layer").value, "filter", { none: t("no_filter") });
    return fillValues();
  };
  fillLayers(part("layer"), "demand", { selected: slug });
  part("layer").addEventListener("change", () => fillLayerParts().catch((err) => { $("run-error").textContent = err.message; }));
  part("filter-attribute").addEventListener("change", () => fillValues().catch((err) => { $("run-error").textContent = err.message; }));
  return fillLayerParts();
}

function renumberDemand() {
  document.querySelectorAll(".demand-source legend").forEach((legend, i) => {
    legend.textContent = t("demand_source", { n: String(i + 1) });
  });
}

function demandSources() {
  return [...document.querySelectorAll(".demand-source")].map((row) => {
    const part = (name) => row.querySelector(`[data-part=${name}]`).value;
    const source = { layer: part("layer"), attribute: part("attribute") };
    if (part("filter-attribute") && part("filter-value")) source.filter = { [part("filter-attribute")]: part("filter-value") };
    const scale = Number(part("scale"));
    if (part("scale") !== "" && scale !== 1) source.scale = scale;
    return source;
  });
}

fillLayers($("existing-layer"), "existing", { none: t("no_existing_layer") });
fillLayers($("candidates-layer"), "candidates");
fillLayers($("dem-layer"), "dem", { none: t("no_dem") });
fillLayers($("distance-layer"), "distance");
fillLayers($("network-layer"), "network");
fillLayers($("competitors-layer"), "competitors", { none: t("no_competitors") });
// market share: each side's attractiveness, a numeric attribute of its layer (none: the same everywhere)
function pickAttractiveness() {
  fillAttributes($("competitors-attractiveness"), chosen("competitors-layer"), "score", { none: t("same_everywhere") });
  fillAttributes($("candidates-attractiveness"), chosen("candidates-layer"), "score", { none: t("same_everywhere") });
  fillAttributes($("existing-attractiveness"), chosen("existing-layer"), "score", { none: t("same_everywhere") });
  return Promise.resolve();
}
pickAttractiveness();
// step 5: the fields the chosen problem type and distance use
const NO_K = ["set_covering", "target_share"];
const CAPACITATED = ["covering", "p_median", "attendance"];
const MARKET = ["market_share", "target_share"];
const DECAYING = ["attendance", ...MARKET];
const modelChosen = () => document.querySelector("input[name=model]:checked").value;
const distanceChosen = () => document.querySelector("input[name=distance]:checked").value;
function showAllocationFields() {
  const model = modelChosen();
  const travel = distanceChosen() !== "straight";
  $("k-field").hidden = NO_K.includes(model);
  $("target-field").hidden = model !== "target_share";
  $("competitors-field").hidden = !MARKET.includes(model);
  $("decay-field").hidden = !DECAYING.includes(model);
  // linear decay needs the reach; the market models default to a power curve
  if (!$("decay-field").dataset.touched) $("decay-kind").value = model === "attendance" ? "linear" : "power";
  $("decay-beta").disabled = $("decay-kind").value === "linear";
  $("network-field").hidden = !travel;
  $("cutoff-min").disabled = model === "p_median";
  $("radius-field").hidden = travel || model === "p_median";
}
document.querySelectorAll("input[name=model], input[name=distance]").forEach((input) => {
  input.addEventListener("change", showAllocationFields);
});
$("decay-kind").addEventListener("change", () => {
  $("decay-field").dataset.touched = "1";
  showAllocationFields();
});
showAllocationFields();
whenChanged("existing-layer", () => Promise.all([pickExisting(), pickAttractiveness()]));
whenChanged("existing-attribute", fillKinds);
whenChanged("candidates-layer", () => Promise.all([pickCandidates(), pickAttractiveness()]));
whenChanged("competitors-layer", pickAttractiveness);
whenChanged("candidates-attribute", fillCandidateValues);
whenChanged("category-attribute", fillCategoryScores);
// another source: the first demand layer not used yet
const unusedDemand = () => {
  const used = new Set([...document.querySelectorAll(".demand-source [data-part=layer]")].map((s) => s.value));
  return choicesFor("demand").find((slug) => !used.has(slug)) || defaultFor("demand");
};
$("add-demand").addEventListener("click", () => addDemandSource(unusedDemand()).catch((err) => { $("run-error").textContent = err.message; }));
const ready = Promise.all([pickExisting(), pickCandidates(), addDemandSource()])
  .catch((err) => { $("run-error").textContent = err.message; });

function number(id) {
  const text = $(id).value.trim();
  return text === "" ? null : Number(text);
}

export function siteRequest() {
  const kind = $("facility-kind").value;
  const kindAttribute = chosen("existing-attribute");
  const existingLayer = chosen("existing-layer");
  const existingSpec = existingLayer
    ? { layer: existingLayer, ...(kind && kindAttribute ? { filter: { [kindAttribute]: kind } } : {}) } : null;
  const candidatesAttribute = chosen("candidates-attribute");
  const ticked = [...document.querySelectorAll("input[name=candidate_value]:checked")].map((b) => b.value);
  const demand = demandSources();
  const weight = Object.fromEntries([...FACTORS, "category"].map((f) => [f, Number($(`w-${f}`).value)]));
  const scores = Object.fromEntries([...document.querySelectorAll("#category-scores input")]
    .map((input) => [input.dataset.value, Number(input.value)]));
  const factors = [
    { name: "roads", kind: "distance", layer: chosen("distance-layer"), prefer: "near" },
    { name: "population", kind: "population", ...demand[0], radius: number("population-radius") },
    existingSpec && { name: "existing", kind: "distance", ...existingSpec, prefer: "far" },
    chosen("score-attribute") && { name: "land_value", kind: "attribute", attribute: chosen("score-attribute"), prefer: "low" },
    chosen("category-attribute") && { name: "category", kind: "category", attribute: chosen("category-attribute"), scores },
  ].filter(Boolean).map((f) => ({ ...f, weight: weight[f.name] })).filter((f) => f.weight > 0);
  const model = modelChosen();
  const allocation = { model, pool: number("pool"), demand: demand.length === 1 ? demand[0] : demand };
  if (!NO_K.includes(model)) allocation.k = number("k");
  if ($("keep-existing").checked && existingSpec) {
    allocation.existing = existingSpec;
    if (MARKET.includes(model) && chosen("existing-attractiveness")) {
      allocation.existing = { ...existingSpec, attractiveness: chosen("existing-attractiveness") };
    }
  }
  if (distanceChosen() !== "straight" && chosen("network-layer")) {  // travel minutes on the road network
    allocation.network = chosen("network-layer");
    allocation.profile = distanceChosen();
    if (model !== "p_median") allocation.cutoff_min = number("cutoff-min");
  } else if (model !== "p_median") {
    allocation.radius = number("radius");
  }
  if (model === "target_share") allocation.target = number("target-share");
  if (MARKET.includes(model) && chosen("competitors-layer")) {
    allocation.competitors = { layer: chosen("competitors-layer") };
    if (chosen("competitors-attractiveness")) allocation.competitors.attractiveness = chosen("competitors-attractiveness");
  }
  if (MARKET.includes(model) && chosen("candidates-attractiveness")) {
    allocation.attractiveness = chosen("candidates-attractiveness");
  }
  if (DECAYING.includes(model)) {
    allocation.decay = { kind: $("decay-kind").value };
    if ($("decay-kind").value !== "linear" && number("decay-beta") !== null) allocation.decay.beta = number("decay-beta");
  }
  if (model === "covering" && number("min-spacing")) allocation.min_spacing = number("min-spacing");
  if (CAPACITATED.includes(model) && number("capacity") !== null) allocation.capacity = number("capacity");
  if (number("time-limit") !== null) allocation.time_limit = number("time-limit");
  if (number("gap") !== null) allocation.gap = number("gap") / 100;
  const constraints = { exclude_layers: [...document.querySelectorAll("input[name=exclude_layer]:checked")]
    .map((b) => b.value), min_area_m2: number("min-area") };
  if (number("max-slope") !== null && chosen("dem-layer")) {
    constraints.max_slope_deg = number("max-slope");
    constraints.dem = chosen("dem-layer");
  }
  const kindText = kind ? $("facility-kind").selectedOptions[0].dataset.label : "";
  return {
    title: `${kindText || layerTitle(layerOf(chosen("candidates-layer")) || { title_zh: "" })} ${t("siting_title")}`.trim(),
    candidates: { layer: chosen("candidates-layer"),
      ...(candidatesAttribute && ticked.length ? { filter: { [`${candidatesAttribute}__in`]: ticked.join(",") } } : {}) },
    constraints, factors, allocation,
  };
}

// the ramp spans the scores shown (the best few hundred are close together on the 0–1 scale)
function scoreColors(features) {
  const scores = features.map((f) => f.properties.score);
  const lo = Math.min(...scores);
  const span = Math.max(...scores) - lo || 1;
  return (score) => RAMP[Math.min(RAMP.length - 1, Math.floor(((score - lo) / span) * RAMP.length))];
}

function column(name, prefix) {
  return `${prefix}_${name.toLowerCase().replace(/[^0-9a-z]+/g, "_").replace(/^_|_$/g, "")}`;
}

// what each factor added to one candidate's score (the weighted, normalised value), with its raw value
function showContributions(properties) {
  const weights = page.job.counts.result.weights;
  const total = Object.values(weights).reduce((a, b) => a + b, 0);
  const site = page.names[properties.source_fid] || t("candidate_fid", { fid: properties.source_fid });
  $("contrib-title").textContent = t("contrib_of_site", { rank: properties.rank ?? "—", site,
    score: scoreFormat.format(properties.score ?? 0) });
  $("contrib").replaceChildren(...Object.keys(weights).map((name) => {
    const part = properties[column(name, "contrib")] ?? 0;
    const share = weights[name] / total;
    return el("tr", { "data-factor": name },
      el("th", { scope: "row" }, t(`factor_${name}`)),
      el("td", {}, numberFormat.format(properties[column(name, "value")] ?? NaN)),
      el("td", {}, scoreFormat.format(part)),
      el("td", {}, el("meter", { min: "0", max: String(share), value: String(part), "aria-label": t(`factor_${name}`) })));
  }));
  $("contrib-box").hidden = false;
}

function drawResult(candidates, sites, allocation) {
  drawn.clearLayers();
  const scoreColor = scoreColors(candidates.features);
  const shapes = L.geoJSON(candidates, {
    style: (f) => ({ color: f.properties.chosen ? "#0d47a1" : "#7f2704", weight: f.properties.chosen ? 3 : 0.6,
      fillColor: scoreColor(f.properties.score), fillOpacity: 0.85 }),
    onEachFeature: (f, layer) => layer.on("click", () => showContributions(f.properties)),
  }).addTo(drawn);
  const radius = allocation.model === "covering" ? allocation.radius : null;
  const outlines = allocation.outlines;  // travel time: where each site is reached from within the cutoff
  if (outlines) {
    for (const [shapes, color] of [[outlines.new, "#1565c0"], [outlines.existing, "#616161"]]) {
      for (const shape of shapes.filter(Boolean)) {
        L.geoJSON(shape, { style: { color, weight: 2, fillOpacity: 0.06 }, interactive: false }).addTo(drawn);
      }
    }
  }
  for (const f of sites.features) {
    const n = f.properties.pick_order;
    if (f.properties.status === "new") {
      addNumberedSite(drawn, f.geometry.coordinates, n, t("site_new", { n }), radius);
      continue;
    }
    const [lon, lat] = f.geometry.coordinates;
    if (radius) {
      L.circle([lat, lon], { radius, color: "#616161", weight: 1, fillOpacity: 0.06, interactive: false }).addTo(drawn);
    }
    L.circleMarker([lat, lon], { radius: 6, color: "#fff", weight: 2, fillColor: "#616161", fillOpacity: 1 }).addTo(drawn);
  }
  setLegend(map, t("legend_siting"), [
    { color: "#1565c0", label: t("legend_new_site") }, { color: "#616161", label: t("legend_existing_site") },
    { color: RAMP[4], label: t("legend_high_score") }, { color: RAMP[1], label: t("legend_low_score") }]);
  const everything = L.featureGroup(drawn.getLayers());
  if (everything.getLayers().length) map.fitBounds(everything.getBounds(), { padding: [20, 20] });
}

// the covered demand as existing coverage plus each new site's gain, in the answer's own words and unit (the job
// writes them in both languages, rounded so that the parts add up to the total shown)
function showAccounting(a, words) {
  const covering = Boolean(words.accounting);
  $("gains-already").hidden = !covering;
  $("gains-sum").hidden = !covering;
  $("sum-line").textContent = covering ? words.accounting.sum : "";
  $("unique").replaceChildren(...(words.unique || []).map((line) => el("li", {}, line)));
  if (!covering) {  // p-median: each site's cut of the total weighted distance
    $("gains").replaceChildren(...a.marginal_gain.map((g, i) => el("tr", {}, el("td", {}, String(i + 1)),
      el("td", {}, words.sites[i]), el("td", {}, numberFormat.format(g)), el("td", {}, ""))));
    $("next-gain").textContent = numberFormat.format(a.next_gain);
    return;
  }
  const money = words.accounting;
  $("already").textContent = money.already;
  $("already").dataset.value = String(a.accounting.already_covered);
  $("already-cumulative").textContent = money.already;
  $("gains").replaceChildren(...money.gains.map((g, i) => el("tr", { "data-value": String(a.accounting.gains[i]) },
    el("td", {}, String(i + 1)), el("td", { class: "site" }, words.sites[i]), el("td", { class: "gain" }, g),
    el("td", {}, money.cumulative[i]))));
  $("sum-covered").textContent = money.covered;
  $("sum-covered").dataset.value = String(a.accounting.covered);
  $("next-gain").textContent = money.next;
}

async function showResult(job) {
  page.job = job;
  const result = job.counts.result;
  const a = result.allocation;
  const words = result.wording[config.lang] || result.wording["zh-hant"];
  const ranked = job.layers.find((s) => !s.endsWith("-sites"));
  const sitesLayer = job.layers.find((s) => s.endsWith("-sites"));
  const covering = Boolean(words.accounting);  // every type but the p-median: existing + each new site's gain
  const figure = MARKET.includes(a.model) ? "captured" : a.model === "attendance" ? "attending" : "covered";
  $("chosen-count").textContent = String(a.chosen.length);
  $("covered-label").textContent = t(covering ? `${figure}_demand` : a.unit === "min" ? "total_time" : "total_distance");
  $("uncovered-label").textContent = t(`not_${figure}_demand`);
  $("share-label").textContent = t(`${figure}_share`);
  $("answer-notes").replaceChildren(...[words.reach, words.outcome, words.unreachable].filter(Boolean)
    .map((line) => el("li", {}, line)));
  $("covered").textContent = covering ? words.accounting.covered : numberFormat.format(a.objective);
  $("covered").dataset.value = String(covering ? a.accounting.covered : a.objective);
  $("uncovered").textContent = covering ? words.accounting.uncovered : "—";
  $("demand-total").textContent = covering ? words.accounting.total : words.demand_total;
  $("covered-share").textContent = covering
    ? `${numberFormat.format((100 * a.accounting.covered) / a.accounting.total)}%` : "—";
  $("demand-note").textContent = words.note || "";
  // travel time: demand within each break of the existing sites and with the new ones (the job words the amounts)
  $("by-break-box").hidden = !words.by_break;
  $("by-break").replaceChildren(...(words.by_break || []).map((b) => el("tr", {}, el("th", { scope: "row" }, b.minutes),
    el("td", {}, b.existing), el("td", {}, b.with_new), el("td", {}, b.added))));
  $("solver").textContent = a.status === "optimal" ? t("proven_optimal")
    : a.gap !== null && a.gap !== undefined ? t("proven_gap", { gap: numberFormat.format(100 * a.gap) }) : a.method;
  $("feasible").textContent = t("feasible_of", { feasible: numberFormat.format(result.feasible),
    all: numberFormat.format(result.candidates) });
  $("excluded").replaceChildren(...words.exclusions.map((line) => el("li", {}, line)));
  showAccounting(a, words);
  const bars = covering ? [{ label: t("already_short"), value: a.accounting.already_covered },
    ...a.accounting.gains.map((g, i) => ({ label: `#${i + 1}`, value: g })),
    { label: "+1", value: a.accounting.next_gain }]
    : [...a.marginal_gain.map((g, i) => ({ label: `#${i + 1}`, value: g })), { label: "+1", value: a.next_gain }];
  barChart($("gain-chart"), bars, t(covering ? "gain_chart" : a.unit === "min" ? "cut_time_chart" : "cut_chart"));
  $("report-html").href = url("siting_report", { id: job.id, name: "report.html" });
  $("report-csv").href = url("siting_report", { id: job.id, name: "candidates.csv" });
  const [candidates, sites] = await Promise.all([
    getJSON(`${url("features", { slug: ranked })}?rank__lte=${SHOWN_CANDIDATES}&sort=rank&limit=${SHOWN_CANDIDATES}`),
    getJSON(`${url("features", { slug: sitesLayer })}?limit=1000`)]);
  page.candidates = candidates.features;
  const byFid = Object.fromEntries(candidates.features.map((f) => [f.properties.source_fid, f.properties]));
  page.names = Object.fromEntries(a.top.map((item, i) => [item.fid, words.top[i].site]));
  a.chosen.forEach((fid, i) => { page.names[fid] = words.sites[i]; });
  $("top-candidates").replaceChildren(...a.top.map((item, i) => el("tr", { class: item.pick_order ? "chosen" : "",
    "data-rank": String(item.rank) },
  el("td", {}, String(item.rank)),
  el("td", {}, el("button", { type: "button", class: "link", onclick: () => showContributions(byFid[item.fid]) },
    words.top[i].site)),
  el("td", {}, scoreFormat.format(item.score)),
  el("td", {}, words.top[i].chosen))));
  $("why-intro").textContent = words.why_intro || "";
  $("why").replaceChildren(...words.top.filter((w) => w.why).map((w) => el("li", {}, w.why)));
  drawResult(candidates, sites, { model: a.model, radius: page.radius, outlines: a.reach_outlines });
  $("result").hidden = false;
  $("result").dataset.job = String(job.id);
}

$("siting-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = siteRequest();
  $("run-error").textContent = "";
  wizard.show(5);
  if (!body.factors.length) {
    $("run-error").textContent = t("no_factor");
    return;
  }
  page.radius = body.allocation.radius;
  $("run").disabled = true;
  $("result").hidden = true;
  try {
    const job = await runJob(url("siting"), body, $("job-progress"), $("job-message"));
    await showResult(job);
    rememberJob(job.id);
  } catch (err) {
    $("run-error").textContent = err.message;
  } finally {
    $("run").disabled = false;
  }
});

// the answer stays at its own address (?job=…): a reload or the language switch shows it again
function rememberJob(id) {
  history.replaceState(null, "", `${location.pathname}?job=${id}`);
  document.querySelectorAll("input[name=next]").forEach((input) => { input.value = `${location.pathname}?job=${id}`; });
}

async function showStoredJob(id) {
  wizard.show(5, false);
  try {
    const job = await getJSON(url("job", { id: encodeURIComponent(id) }));
    page.radius = job.options?.allocation?.radius;
    await showResult(job);
  } catch (err) {
    $("run-error").textContent = err.message;
  }
}

const stored = new URLSearchParams(location.search).get("job");
if (stored) showStoredJob(stored);

window.civgis = { map, siteRequest, page, ready };
