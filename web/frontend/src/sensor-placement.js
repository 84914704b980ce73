// Where to add air-quality sensors (the sensor page's placement form): the siting job with road parcels (street
// lights) as candidates, the sensors already up kept, people and industry as demand, and a minimum spacing
// between sensors — the new places drawn on the sensor map with what each adds.
import L from "./leaflet-global.js";
import { numberFormat, t, url } from "./config.js";
import { getJSON } from "./api.js";
import { runJob } from "./jobs.js";
import { el } from "./panel.js";
import { addNumberedSite } from "./pagemap.js";
import { fillLayers } from "./pickers.js";

const $ = (id) => document.getElementById(id);

export function placementRequest(k, radius, spacing, sensors = $("placement-sensors").value) {
  return {
    title: t("placement_title"),
    candidates: { layer: "parcels", filter: { land_use_code: "road" } },
    factors: [{ kind: "population", layer: "villages", attribute: "population", radius }],
    allocation: { model: "covering", k, radius, min_spacing: spacing, pool: 150, existing: { layer: sensors },
      demand: [{ layer: "villages", attribute: "population" },
        // industry as a pollution source: 1 m² of industrial parcel counts as 0.01 person
        { layer: "parcels", filter: { land_use_code: "industrial" }, attribute: "area_m2", scale: 0.01 }] },
  };
}

export function wirePlacement(map) {
  const drawn = L.layerGroup().addTo(map);
  fillLayers($("placement-sensors"), "sensors");  // the sensors already up: any point layer the user may see
  $("placement-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("placement-error").textContent = "";
    $("placement-result").hidden = true;
    $("place").disabled = true;
    const radius = Number($("placement-radius").value);
    try {
      const job = await runJob(url("siting"), placementRequest(Number($("placement-k").value), radius,
        Number($("placement-spacing").value)), $("placement-progress"), $("placement-message"));
      const a = job.counts.result.allocation;
      const sites = await getJSON(`${url("features", { slug: job.layers.find((s) => s.endsWith("-sites")) })}?status=new`);
      drawn.clearLayers();
      for (const f of sites.features) {
        const n = f.properties.pick_order;
        addNumberedSite(drawn, f.geometry.coordinates, n, t("new_sensor", { n }), radius);
      }
      $("placement-covered").textContent = numberFormat.format(a.objective);
      $("placement-gains").replaceChildren(...a.marginal_gain.map((g, i) => el("li", {},
        t("placement_gain", { n: i + 1, gain: numberFormat.format(g) }))));
      $("placement-result").dataset.job = String(job.id);
      $("placement-result").hidden = false;
    } catch (err) {
      $("placement-error").textContent = err.message;
    } finally {
      $("place").disabled = false;
    }
  });
}
