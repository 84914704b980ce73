// What an analysis starts from: a shape drawn on the map or a picked feature, chosen with one row of buttons;
// the choice stays drawn on the map and is described in words next to the buttons.
import L from "./leaflet-global.js";
import { layerTitle, t } from "./config.js";
import { el } from "./panel.js";
import { draw, isDrawing, pick } from "./draw.js";

const SHAPE = { color: "#6a1b9a", weight: 3, fillOpacity: 0.1 };

// {geometry} (lon/lat) or {layer, fid}: the request body's part naming the subject
export function subjectRequest(subject) {
  return subject.geometry ? { geometry: subject.geometry, crs: 4326 } : { layer: subject.layer, id: subject.fid };
}

export function subjectPicker(map, { kinds, pickable, pickHint = "subject_pick_hint", onChange }) {
  const shown = L.layerGroup().addTo(map);
  const said = el("p", { class: "subject", "aria-live": "polite" }, t("subject_none"));
  const hint = el("p", { class: "hint" });

  async function choose(kind) {
    if (isDrawing()) return;
    hint.textContent = t(kind === "pick" ? pickHint : kind === "point" ? "draw_point_hint" : "draw_hint");
    const result = kind === "pick" ? await pick(map, pickable) : await draw(map, kind);
    hint.textContent = "";
    if (!result) return;
    shown.clearLayers();
    let subject;
    if (kind === "pick") {
      const name = result.properties.name ?? result.properties.title ?? "";
      subject = { layer: result.layer.slug, fid: result.fid };
      said.textContent = t("subject_feature", { layer: layerTitle(result.layer), fid: result.fid, name });
      L.circleMarker(result.latlng, { radius: 6, color: SHAPE.color }).addTo(shown);
    } else {
      subject = { geometry: result };
      said.textContent = t(`subject_${kind}`);
      L.geoJSON(result, { style: SHAPE, pointToLayer: (_f, p) => L.circleMarker(p, { radius: 6, ...SHAPE }) })
        .addTo(shown);
    }
    onChange(subject);
  }

  const buttons = el("div", { class: "button-row", role: "group", "aria-label": t("subject") },
    kinds.map((kind) => el("button", { type: "button", "data-draw": kind, onclick: () => choose(kind) },
      t(`draw_${kind}`))),
    pickable ? el("button", { type: "button", "data-draw": "pick", onclick: () => choose("pick") }, t("draw_pick")) : null);
  return { node: el("fieldset", { class: "subject-picker" }, el("legend", {}, t("subject")), buttons, hint, said),
    clear: () => shown.clearLayers() };
}
