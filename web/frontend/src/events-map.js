// The /events/ page's map: the counted areas (villages, districts, an area layer, grid or H3 cells) coloured by
// their rate per 1,000 residents, or by their count when no residents are known, in five quantile classes.
import L from "./leaflet-global.js";
import { numberFormat } from "./config.js";
import { createPageMap, setLegend } from "./pagemap.js";

const RAMP = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"];
const data = JSON.parse(document.getElementById("events-map-data").textContent);
const W = data.words;
const map = createPageMap(document.getElementById("events-map"));

const valueOf = (f) => f.properties[data.measure];
const values = data.features.features.map(valueOf).filter((v) => v !== null).sort((a, b) => a - b);
// the upper bound of each class: quantiles of the values (fewer classes when the values are fewer)
const tops = [...new Set(RAMP.map((_c, i) => values[Math.min(values.length - 1,
  Math.ceil(((i + 1) / RAMP.length) * values.length) - 1)]))].filter((v) => v !== undefined);
const colour = (v) => (v === null ? "#cfd8dc" : RAMP[Math.min(RAMP.length - 1, tops.findIndex((top) => v <= top))]);

function describe(p) {
  const lines = [`<strong>${escape(p.name ?? p.area)}</strong>`,
    `${W.count}: ${numberFormat.format(p.count)} ${W.unit}`];
  if (p.population !== null) lines.push(`${W.population}: ${numberFormat.format(p.population)} ${W.people}`);
  lines.push(`${W.rate}: ${p.rate_per_1000 === null ? W.none : `${numberFormat.format(p.rate_per_1000)} ${W.rate_unit}`}`);
  return lines.join("<br>");
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const drawn = L.geoJSON(data.features, {
  style: (f) => ({ color: "#37474f", weight: 1, fillColor: colour(valueOf(f)), fillOpacity: 0.65 }),
  onEachFeature: (f, layer) => layer.bindTooltip(describe(f.properties), { sticky: true }),
}).addTo(map);
if (drawn.getLayers().length) map.fitBounds(drawn.getBounds(), { maxZoom: 15 });
let low = values[0];
setLegend(map, data.title, tops.map((top, i) => {
  const label = i === 0 ? `≤ ${numberFormat.format(top)}` : `${numberFormat.format(low)} – ${numberFormat.format(top)}`;
  low = top;
  return { color: RAMP[Math.min(RAMP.length - 1, i)], label };
}));
