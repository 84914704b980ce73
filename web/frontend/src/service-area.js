// 服務範圍: a point drawn on the map (or every feature of a point layer), a road layer and how one travels on it,
// time breaks in minutes, people counted from an area layer (apportioned by area) → the
// service-area job (POST /api/v1/analysis/network/service-areas/); when the road layer has no network for that
// profile yet it is built first (POST /api/v1/analysis/network/, a job with its own progress bar); the areas (one
// per break) appear as a new layer in the tree, switched on.
import { config, layerTitle, numberFormat, t, url } from "./config.js";
import { el } from "./panel.js";
import { fillWithAllLayers } from "./state.js";
import { getJSON, postJSON } from "./api.js";
import { jobProgress } from "./jobs.js";
import { subjectPicker } from "./subject.js";
import { followResultJob, outcome, whileWorking } from "./overlay.js";

const PROFILES = ["driving", "walking", "cycling"];

// the road layer's network for the profile, built now when there is none (or followed while it is being built)
async function networkReady(slug, profile, list) {
  const listed = await getJSON(`${url("networks")}?roads=${encodeURIComponent(slug)}`);
  const found = listed.networks.find((n) => n.profile === profile);
  if (found?.status === "ready") return true;
  if (found?.status === "failed") throw new Error(found.error);
  const job = found?.status === "pending" && found.job ? await getJSON(url("job", { id: found.job }))
    : await postJSON(url("networks"), { roads: slug, profile });
  const progress = jobProgress(t("service_building", { layer: layerTitle(config.layers.find((l) => l.slug === slug)) }));
  list.replaceChildren(progress.node);
  const done = await progress.follow(job);
  if (done.status !== "succeeded") throw new Error(done.errors?.[0]?.message || t(`job_${done.status}`));
  return true;
}

export function createServiceAreaTool(map) {
  let node = null;
  let subject = null;

  function build() {
    if (!config.user) return el("p", { class: "hint" }, t("sign_in_first"));
    const picker = subjectPicker(map, { kinds: ["point"], onChange: (s) => { subject = s; } });
    const roads = el("select", { id: "service-roads", required: true });
    const profile = el("select", { id: "service-profile" },
      PROFILES.map((p) => el("option", { value: p }, t(`service_profile_${p}`))));
    const breaks = el("input", { id: "service-breaks", value: "5, 10, 15", inputmode: "decimal", required: true });
    // several facilities at once: every feature of a point layer instead of the point drawn
    const from = el("select", { id: "service-from" });
    // people within each break, apportioned from an area layer with a population count
    const people = el("select", { id: "service-people" });
    fillWithAllLayers(() => { // the three lists from every vector layer, once the page has them all (choices kept)
      const vector = config.layers.filter((l) => l.kind === "vector");
      const has = (l, shape) => (l.geometry_type || "").includes(shape);
      const fill = (select, layers, first, chosen) => {
        const value = select.value || chosen;
        select.replaceChildren(...(first ? [el("option", { value: "" }, first)] : []), ...layers.map((layer) =>
          el("option", { value: layer.slug, selected: layer.slug === value }, layerTitle(layer))));
      };
      fill(roads, vector.filter((l) => has(l, "LineString")), null, "roads");
      fill(from, vector.filter((l) => has(l, "Point")), t("service_from_drawn"), "");
      fill(people, vector.filter((l) => has(l, "Polygon") && (l.attributes || []).some((a) => a.name === "population")),
        t("service_people_none"), "villages");
    });
    const counted = el("ul", { class: "service-people", "aria-live": "polite" });
    const status = el("p", { role: "status", class: "tool-status" });
    const jobs = el("ul", { class: "jobs" });
    const form = el("form", { class: "tool-form" }, picker.node,
      el("label", { for: "service-roads" }, t("service_roads")), roads,
      el("label", { for: "service-profile" }, t("service_profile")), profile,
      el("label", { for: "service-from" }, t("service_from")), from,
      el("label", { for: "service-breaks" }, t("service_breaks")), breaks,
      el("label", { for: "service-people" }, t("service_people")), people,
      el("button", { type: "submit", class: "primary" }, t("service_run")), status, jobs, counted);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const minutes = breaks.value.split(/[\s,，、]+/).filter(Boolean).map(Number);
      if (!subject && !from.value) return void (status.textContent = t("subject_missing"));
      if (!minutes.length || minutes.some((m) => !(m > 0 && m <= 240))) {
        return void (status.textContent = t("service_bad_breaks"));
      }
      await whileWorking(form, status, async () => {
        await networkReady(roads.value, profile.value, jobs);
        const title = t("service_title", { breaks: minutes.join("/"), profile: t(`service_profile_${profile.value}`) });
        const facilities = from.value ? { layer: from.value } : { geometry: subject.geometry, crs: 4326 };
        const body = { roads: roads.value, profile: profile.value, breaks: minutes, facilities, title };
        if (people.value) body.population = { layer: people.value, attribute: "population" };
        counted.replaceChildren();
        const job = await postJSON(url("service_areas"), body);
        const done = await followResultJob(job, jobs, job.options.title);
        status.textContent = outcome(done, job.options);
        const perBreak = done.counts?.result?.population || [];
        counted.replaceChildren(...perBreak.map((b) => el("li", {}, t("service_people_within", {
          minutes: numberFormat.format(b.break_min), people: numberFormat.format(Math.round(b.population)) }))));
      });
    });
    return form;
  }

  return { id: "service-area", title: "tool_service_area", glyph: "⏱", render: () => (node ||= build()) };
}
