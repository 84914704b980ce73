// 編輯圖層: draw and change the features of a layer this user may edit, on the 2D map. The layer's features in view
// are drawn as editable shapes (Leaflet-Geoman): click one to change its attributes in the form the layer's rules
// make (/api/v1/layers/{slug}/form/), drag its vertices to reshape it, move it; add points, lines or polygons
// (snapping to the layer's other features and, when chosen, to another layer on the map); split a line or polygon by
// a drawn line and merge features into the one selected (both on the server: PostGIS); delete; undo and redo the
// shape changes and, while drawing, the vertices. Saving sends the version read: when someone else saved first the
// server answers 409 and the conflict shows both versions to choose from.
// Only offered when the server lists layers this user may edit (config.edit_layers): no right, no tools.
import L from "./leaflet-global.js";
import "@geoman-io/leaflet-geoman-free";
import { config, csrfToken, layersBySlug, layerTitle, t, url } from "./config.js";
import { el } from "./panel.js";
import { errorText } from "./api.js";
import { refreshLayer } from "./map2d.js";
import { ensureLayers, state } from "./state.js";

const SHAPE = { color: "#d84315", weight: 3, fillOpacity: 0.15, radius: 7 };
const SELECTED = { color: "#1565c0", weight: 4, fillOpacity: 0.25 };
const CURRENT = { color: "#6a1b9a", weight: 3, dashArray: "6 4", fill: false };
const MERGING = { color: "#2e7d32", weight: 4, fillOpacity: 0.3 };
const SNAP = { color: "#546e7a", weight: 2, opacity: 0.7, fillOpacity: 0.05, radius: 4, dashArray: "2 3" };
const MAX_FEATURES = 500;
const MAX_SNAP = 1000; // features of the snap layer in view (a denser view says so: zoom in)
const DRAW = { Point: "Marker", LineString: "Line", Polygon: "Polygon" };

// the API, with the version (ETag / 409) and the server's words kept
async function call(method, path, body) {
  const options = { method, credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const answer = (response.headers.get("Content-Type") || "").includes("json") ? await response.json() : null;
  return { status: response.status, ok: response.ok, body: answer, etag: response.headers.get("ETag") };
}

const simpleType = (layer) => (layer?.geometry_type || "").replace(/^Multi/i, "").replace(/^multi/i, "");
const label = (field) => (config.lang === "en" ? field.label_en || field.label : field.label) || field.name;
const valueLabel = (entry) => (config.lang === "en" ? entry.label_en || entry.label : entry.label) ?? String(entry.value);
const shown = (field, values) => {
  const when = field.when;
  if (!when) return true;
  const v = values[when.field];
  if (v === null || v === undefined || v === "") return false;
  return !when.values || when.values.includes(v);
};

function geometryOf(shape) {
  return shape.toGeoJSON().geometry;
}

function setGeometry(shape, geometry) {
  if (shape instanceof L.Marker) {
    shape.setLatLng([geometry.coordinates[1], geometry.coordinates[0]]);
    return;
  }
  const depth = { LineString: 0, MultiLineString: 1, Polygon: 1, MultiPolygon: 2 }[geometry.type] ?? 0;
  shape.setLatLngs(L.GeoJSON.coordsToLatLngs(geometry.coordinates, depth));
}

export function createEditTool(map, status) {
  const editable = config.edit_layers || []; // the server lists the vector layers this user may edit
  if (!editable.length) return null;
  ensureLayers({ slugs: editable }); // a large catalog's page holds only the layers it opens with
  map.pm.setLang(config.lang === "en" ? "en" : "zh_tw");
  const snap = { on: true, px: 15, slug: "" }; // snap to this layer's shapes and, if chosen, another layer's
  const snapping = () => ({ snappable: snap.on, snapDistance: snap.px });
  map.pm.setGlobalOptions(snapping());
  const shapes = L.featureGroup().addTo(map);
  const svg = L.svg({ padding: 0.5 }); // the shapes being edited as SVG (the map draws on canvas): their own DOM
  // elements take the clicks and Geoman's handles, whatever the map's other layers do
  const snapShapes = L.featureGroup().addTo(map); // another layer's features in view: snapped to, never edited
  const current = L.layerGroup().addTo(map);
  let slug = editable[0];
  let form = null; // the layer's form: {fields, can_add, can_delete}
  let node = null;
  let selected = null; // {shape, fid (null: new), version, properties}
  let undo = [];
  let redo = [];
  let lastGeometry = null;
  let open = false;
  let mode = null; // "split": the next line drawn cuts the selected feature; "merge": clicks pick features to merge
  const merging = new Map(); // fid → {shape, version}: the features to merge into the selected one
  let drawing = null; // Geoman's draw handler while a shape is being drawn, and the vertices undone in it
  let drawRedo = [];
  let redoing = false;

  const say = (text) => {
    status.textContent = text;
    const line = node?.querySelector(".edit-message");
    if (line) line.textContent = text;
  };

  async function loadForm() {
    const answer = await call("GET", url("layer_form", { slug }));
    form = answer.ok ? answer.body : null;
  }

  let loading = 0;
  async function loadFeatures() {
    const mine = ++loading;
    const b = map.getBounds();
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",");
    const answer = await call("GET", `${url("features", { slug })}?bbox=${bbox}&limit=${MAX_FEATURES}`);
    if (mine !== loading || !open) return; // a later look (or a closed tool) wins
    if (!answer.ok) return say(errorText(answer.body, String(answer.status)));
    for (const shape of shapes.getLayers()) if (shape !== selected?.shape) shapes.removeLayer(shape);
    for (const feature of answer.body.features) if (feature.id !== selected?.fid) addShape(feature);
    if (answer.body.features.length >= MAX_FEATURES) say(t("edit_too_many", { n: MAX_FEATURES }));
  }

  function addShape(feature) {
    const group = L.geoJSON(feature, { style: () => SHAPE, renderer: svg,
      pointToLayer: (_f, latlng) => L.marker(latlng, { title: `#${feature.id}`, alt: `#${feature.id}` }) });
    group.eachLayer((shape) => {
      shape.feature = feature;
      shape.fid = feature.id;
      shape.on("click", (e) => {
        if (drawing) return; // drawing over a feature: the click is a vertex for the map, not a pick
        L.DomEvent.stop(e);
        if (mode === "merge") pickForMerge(shape);
        else select(shape);
      });
      shapes.addLayer(shape);
    });
  }

  function shapeOf(fid) {
    return shapes.getLayers().find((s) => s.fid === fid) || null;
  }

  async function select(shape) {
    if (selected?.shape === shape) return;
    if (selected && !(await leave())) return;
    const answer = await call("GET", url("feature", { slug, fid: shape.fid }));
    if (!answer.ok) return say(errorText(answer.body, String(answer.status)));
    const version = Number((answer.etag || '"0"').replace(/\D/g, ""));
    selected = { shape, fid: shape.fid, version, properties: answer.body.properties || {} };
    setGeometry(shape, answer.body.geometry);
    startShapeEdit(shape);
    renderForm();
  }

  function startShapeEdit(shape) {
    if (shape.setStyle) shape.setStyle(SELECTED);
    shape.getElement?.()?.classList.add("edit-selected");
    shape.pm.enable({ ...snapping(), allowSelfIntersection: false, draggable: true });
    undo = [];
    redo = [];
    lastGeometry = geometryOf(shape);
    shape.off("pm:edit").on("pm:edit", () => {
      undo.push(lastGeometry);
      redo = [];
      lastGeometry = geometryOf(shape);
      renderButtons();
    });
  }

  function stopShapeEdit() {
    if (!selected) return;
    selected.shape.pm.disable();
    selected.shape.getElement?.()?.classList.remove("edit-selected");
    if (selected.shape.setStyle) selected.shape.setStyle(SHAPE);
  }

  // leaving a feature with unsaved changes asks first
  async function leave() {
    if (!selected) return true;
    const dirty = undo.length > 0 || selected.fid === null || formChanged();
    if (dirty && !window.confirm(t("edit_discard"))) return false;
    discard();
    return true;
  }

  function discard() {
    if (!selected) return;
    endMerge();
    stopShapeEdit();
    if (selected.fid === null) shapes.removeLayer(selected.shape);
    else if (undo.length) setGeometry(selected.shape, undo[0]);
    selected = null;
    current.clearLayers();
    undo = [];
    redo = [];
    renderForm();
  }

  function step(from, to) {
    if (!selected || !from.length) return;
    to.push(geometryOf(selected.shape));
    const geometry = from.pop();
    selected.shape.pm.disable();
    setGeometry(selected.shape, geometry);
    lastGeometry = geometry;
    selected.shape.pm.enable({ ...snapping(), allowSelfIntersection: false, draggable: true });
    renderButtons();
  }

  // while a line or polygon is being drawn, undo takes back its last vertex and redo puts it again
  function stepDrawing(back) {
    if (!drawing) return false;
    if (back && drawing._markers?.length) {
      const latlngs = drawing._layer.getLatLngs();
      drawRedo.push(latlngs[latlngs.length - 1]);
      drawing._removeLastVertex();
    } else if (!back && drawRedo.length) {
      redoing = true;
      drawing._createVertex({ latlng: drawRedo.pop() });
      redoing = false;
    }
    renderButtons();
    return true;
  }

  function undoStep() {
    if (!stepDrawing(true)) step(undo, redo);
  }

  function redoStep() {
    if (!stepDrawing(false)) step(redo, undo);
  }

  map.on("pm:drawstart", (e) => {
    if (!open) return;
    drawing = map.pm.Draw[e.shape] || null;
    drawRedo = [];
    e.workingLayer?.on("pm:vertexadded", () => {
      if (!redoing) drawRedo = [];
      renderButtons();
    });
    renderButtons();
  });
  map.on("pm:drawend", () => {
    drawing = null;
    drawRedo = [];
    if (mode === "split") mode = null;
    renderButtons();
  });

  function startDrawing() {
    if (selected && selected.fid !== null) discard();
    const kind = DRAW[simpleType(layersBySlug[slug])] || "Polygon";
    map.pm.enableDraw(kind, { ...snapping(), continueDrawing: false });
    say(t(kind === "Marker" ? "edit_draw_point" : "edit_draw_shape"));
  }

  function created(e) {
    if (!open) return;
    if (mode === "split") {
      mode = null;
      map.removeLayer(e.layer);
      return splitBy(e.layer.toGeoJSON().geometry);
    }
    const shape = e.layer;
    shapes.addLayer(shape);
    shape.fid = null;
    shape.on("click", (ev) => {
      if (drawing) return;
      L.DomEvent.stop(ev);
      select(shape);
    });
    const defaults = {};
    for (const field of form?.fields || []) if (field.default !== undefined) defaults[field.name] = field.default;
    selected = { shape, fid: null, version: 0, properties: defaults };
    startShapeEdit(shape);
    renderForm();
  }

  function values() {
    const out = {};
    for (const input of node.querySelectorAll("[data-field]")) {
      const field = form.fields.find((f) => f.name === input.dataset.field);
      if (field.read_only) continue;
      let v = input.type === "checkbox" ? input.checked : input.value;
      if (v === "" && input.type !== "checkbox") v = null;
      else if (["integer", "number"].includes(field.input)) v = Number(v);
      else if (field.values) {
        const entry = field.values.find((e) => String(e.value) === v);
        if (entry) v = entry.value;
      }
      out[field.name] = v;
    }
    return out;
  }

  function formChanged() {
    if (!node || !selected) return false;
    const now = values();
    return Object.entries(now).some(([k, v]) => (selected.properties[k] ?? null) !== v);
  }

  async function save(overrideVersion = null) {
    if (!selected) return;
    const properties = values();
    if (selected.fid !== null) { // only the attributes changed: others may be being edited by someone else
      for (const [k, v] of Object.entries(properties)) if ((selected.properties[k] ?? null) === v) delete properties[k];
    }
    const body = { type: "Feature", properties };
    if (selected.fid === null || undo.length) body.geometry = geometryOf(selected.shape);
    let answer;
    if (selected.fid === null) {
      answer = await call("POST", url("features", { slug }), body);
    } else {
      if (!body.geometry && !Object.keys(properties).length) return say(t("edit_nothing"));
      answer = await call("PATCH", url("feature", { slug, fid: selected.fid }),
        { ...body, version: overrideVersion ?? selected.version });
    }
    if (answer.status === 409) return showConflict(answer.body, body);
    if (!answer.ok) return say(errorText(answer.body, String(answer.status)));
    const feature = answer.body;
    stopShapeEdit();
    shapes.removeLayer(selected.shape);
    addShape(feature);
    selected = null;
    current.clearLayers();
    renderForm();
    say(t("edit_saved", { fid: feature.id, version: feature.version }));
    refreshLayer(map, slug);
  }

  async function remove() {
    if (!selected) return;
    if (selected.fid === null) return discard();
    if (!window.confirm(t("edit_delete_confirm", { fid: selected.fid }))) return;
    const answer = await call("DELETE", `${url("feature", { slug, fid: selected.fid })}?version=${selected.version}`);
    if (answer.status === 409) return showConflict(answer.body, null);
    if (!answer.ok) return say(errorText(answer.body, String(answer.status)));
    stopShapeEdit();
    shapes.removeLayer(selected.shape);
    say(t("edit_deleted", { fid: selected.fid }));
    selected = null;
    renderForm();
    refreshLayer(map, slug);
  }

  // split: the selected feature is cut by the next line drawn (on the server, ST_Split); the pieces replace it
  function startSplit() {
    if (!selected || selected.fid === null) return;
    if ((undo.length || formChanged()) && !window.confirm(t("edit_discard"))) return;
    if (undo.length) setGeometry(selected.shape, undo[0]);
    endMerge();
    mode = "split";
    map.pm.enableDraw("Line", { ...snapping(), continueDrawing: false });
    say(t("edit_split_draw", { fid: selected.fid }));
  }

  async function splitBy(line) {
    if (!selected) return;
    const answer = await call("POST", url("feature_split", { slug, fid: selected.fid }),
      { geometry: line, version: selected.version });
    if (answer.status === 409) return showConflict(answer.body, null);
    if (!answer.ok) return say(errorText(answer.body, String(answer.status)));
    replaceWith([selected.shape], answer.body.features);
    say(t("edit_split_done", { fid: answer.body.changes[0].fid,
      into: answer.body.features.map((f) => `#${f.id}`).join(", ") }));
  }

  // merge: clicks pick the features to merge into the selected one, whose attributes stay; the button merges them
  async function mergeButton() {
    if (!selected || selected.fid === null) return;
    if (mode !== "merge") {
      mode = "merge";
      merging.clear();
      say(t("edit_merge_pick", { fid: selected.fid }));
      return renderButtons();
    }
    if (!merging.size) return say(t("edit_merge_few"));
    const features = [{ fid: selected.fid, version: selected.version },
      ...[...merging].map(([fid, picked]) => ({ fid, version: picked.version }))];
    const answer = await call("POST", url("layer_merge", { slug }), { features, keep: selected.fid });
    if (answer.status === 409) {
      endMerge();
      return showConflict(answer.body, null);
    }
    if (!answer.ok) return say(errorText(answer.body, String(answer.status)));
    const gone = [...merging.values()].map((picked) => picked.shape);
    const from = [...merging.keys()].map((fid) => `#${fid}`).join(", ");
    merging.clear();
    mode = null;
    replaceWith([selected.shape, ...gone], answer.body.features);
    say(t("edit_merged", { from, fid: answer.body.changes[0].fid }));
  }

  async function pickForMerge(shape) {
    if (!selected || shape === selected.shape || shape.fid === null) return;
    if (merging.has(shape.fid)) {
      merging.delete(shape.fid);
      if (shape.setStyle) shape.setStyle(SHAPE);
      return renderButtons();
    }
    const answer = await call("GET", url("feature", { slug, fid: shape.fid }));
    if (!answer.ok) return say(errorText(answer.body, String(answer.status)));
    merging.set(shape.fid, { shape, version: Number((answer.etag || '"0"').replace(/\D/g, "")) });
    if (shape.setStyle) shape.setStyle(MERGING);
    shape.getElement?.()?.classList.add("edit-merging");
    renderButtons();
  }

  function endMerge() {
    for (const picked of merging.values()) {
      if (picked.shape.setStyle) picked.shape.setStyle(SHAPE);
      picked.shape.getElement?.()?.classList.remove("edit-merging");
    }
    merging.clear();
    if (mode === "merge") mode = null;
  }

  function replaceWith(old, features) {
    stopShapeEdit();
    for (const shape of old) shapes.removeLayer(shape);
    for (const feature of features) addShape(feature);
    selected = null;
    current.clearLayers();
    renderForm();
    refreshLayer(map, slug);
  }

  // snapping to another layer on the map: its features in view, drawn faintly, never edited
  let snapLoading = 0;
  async function loadSnap() {
    const mine = ++snapLoading;
    if (!open || !snap.on || !snap.slug) return snapShapes.clearLayers();
    const b = map.getBounds();
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",");
    const answer = await call("GET", `${url("features", { slug: snap.slug })}?bbox=${bbox}&limit=${MAX_SNAP}`);
    if (mine !== snapLoading || !open) return;
    snapShapes.clearLayers();
    if (!answer.ok) return say(errorText(answer.body, String(answer.status)));
    L.geoJSON(answer.body, { style: () => SNAP, interactive: false, pmIgnore: true, snapIgnore: false,
      pointToLayer: (_f, latlng) => L.circleMarker(latlng, { ...SNAP, interactive: false, pmIgnore: true,
        snapIgnore: false }) }).eachLayer((layer) => snapShapes.addLayer(layer));
    const n = answer.body.features.length;
    say(t(n >= MAX_SNAP ? "edit_snap_many" : "edit_snap_loaded", { n }));
  }

  // the other vector layers on the map, to snap to
  function snapChoices() {
    return state.active.filter((s) => s !== slug && layersBySlug[s]?.kind === "vector");
  }

  function renderSnapChoices() {
    const select = node?.querySelector("#edit-snap-layer");
    if (!select) return;
    const choices = snapChoices();
    if (snap.slug && !choices.includes(snap.slug)) snap.slug = "";
    select.replaceChildren(el("option", { value: "" }, t("edit_snap_none")), ...choices.map((s) =>
      el("option", { value: s, selected: s === snap.slug || undefined }, layerTitle(layersBySlug[s]))));
  }

  function setSnap(change) {
    Object.assign(snap, change);
    map.pm.setGlobalOptions(snapping());
    if (selected) {
      selected.shape.pm.disable();
      selected.shape.pm.enable({ ...snapping(), allowSelfIntersection: false, draggable: true });
    }
    loadSnap();
  }

  // 409: both versions side by side; keep mine (saved over the current version) or take theirs
  function showConflict(conflict, mine) {
    const box = node.querySelector(".edit-conflict");
    const theirs = conflict.current?.feature;
    current.clearLayers();
    if (theirs?.geometry) L.geoJSON(theirs, { style: () => CURRENT, pointToLayer: (_f, ll) => L.circleMarker(ll, CURRENT) }).addTo(current);
    const names = new Set([...Object.keys(mine?.properties || {}), ...Object.keys(theirs?.properties || {})]);
    const fieldLabel = (name) => label(form?.fields.find((f) => f.name === name) || { name });
    const rows = [...names].filter((n) => (mine?.properties || {})[n] !== undefined
      || (theirs?.properties || {})[n] !== (selected.properties[n] ?? null)).map((n) => el("tr", {},
      el("th", { scope: "row" }, fieldLabel(n)),
      el("td", {}, mine?.properties?.[n] === undefined ? "—" : String(mine.properties[n] ?? "")),
      el("td", {}, theirs ? String(theirs.properties?.[n] ?? "") : "—")));
    const by = conflict.last_change?.user || "?";
    box.replaceChildren(...[
      el("h3", {}, t("edit_conflict_title")),
      el("p", {}, conflict.current?.deleted ? t("edit_conflict_deleted", { user: by })
        : t("edit_conflict_text", { user: by, theirs: conflict.theirs.version, current: conflict.current.version })),
      rows.length ? el("table", { class: "edit-compare" }, el("thead", {}, el("tr", {}, el("th", {}, ""),
        el("th", { scope: "col" }, t("edit_mine")), el("th", { scope: "col" }, t("edit_theirs")))), el("tbody", {}, rows))
        : null,
      mine?.geometry ? el("p", { class: "hint" }, t("edit_conflict_geometry")) : null,
      el("div", { class: "actions" },
        conflict.current?.deleted ? null : el("button", { type: "button", "data-edit": "keep-mine",
          onclick: () => { box.replaceChildren(); save(conflict.current.version); } }, t("edit_keep_mine")),
        el("button", { type: "button", "data-edit": "take-theirs", onclick: () => takeTheirs(conflict) },
          t("edit_take_theirs")))].filter(Boolean));
    box.hidden = false;
    say(t("edit_conflict_title"));
  }

  function takeTheirs(conflict) {
    const theirs = conflict.current?.feature;
    stopShapeEdit();
    shapes.removeLayer(selected.shape);
    current.clearLayers();
    if (theirs) addShape(theirs);
    selected = null;
    renderForm();
    refreshLayer(map, slug);
    if (theirs) select(shapeOf(theirs.id));
  }

  function input(field, value) {
    const common = { id: `edit-f-${field.name}`, "data-field": field.name, disabled: field.read_only || undefined,
      required: field.required || undefined };
    if (field.values) {
      return el("select", common, field.required ? null : el("option", { value: "" }, "—"),
        field.values.map((e) => el("option", { value: String(e.value), selected: String(e.value) === String(value ?? "") || undefined },
          valueLabel(e))));
    }
    if (field.input === "boolean") return el("input", { ...common, type: "checkbox", checked: value === true || undefined });
    const type = { integer: "number", number: "number", date: "date", datetime: "datetime-local" }[field.input] || "text";
    const attrs = { ...common, type, value: value ?? "" };
    if (field.input === "integer") attrs.step = "1";
    if (field.input === "number") attrs.step = "any";
    if (field.min !== undefined) attrs.min = field.min;
    if (field.max !== undefined) attrs.max = field.max;
    if (field.max_length) attrs.maxlength = field.max_length;
    if (field.read_only || field.default_from) attrs.placeholder = t(`edit_auto_${field.default_from || "none"}`);
    return el("input", attrs);
  }

  function renderFields() {
    if (!selected || !form) return [];
    const vals = { ...selected.properties };
    return form.fields.map((field) => {
      const unit = config.lang === "en" ? field.unit_en || field.unit : field.unit;
      const row = el("div", { class: "edit-field", "data-row": field.name, hidden: !shown(field, vals) || undefined },
        el("label", { for: `edit-f-${field.name}` }, label(field), unit ? ` (${unit})` : "",
          field.required ? el("span", { class: "required", title: t("edit_required") }, " *") : null),
        input(field, vals[field.name]));
      return row;
    });
  }

  function renderButtons() {
    if (!node) return;
    node.querySelector("[data-edit=undo]").disabled = drawing ? !drawing._markers?.length : !undo.length;
    node.querySelector("[data-edit=redo]").disabled = drawing ? !drawRedo.length : !redo.length;
    node.querySelector("[data-edit=delete]").disabled = !selected || (form && !form.can_delete);
    const saved = selected && selected.fid !== null;
    const cuttable = ["LineString", "Polygon"].includes(simpleType(layersBySlug[slug] || {}));
    node.querySelector("[data-edit=split]").disabled = !saved || !cuttable || mode === "merge"
      || (form && !(form.can_delete && form.can_add));
    const merge = node.querySelector("[data-edit=merge]");
    merge.disabled = !saved || (form && !form.can_delete);
    merge.textContent = mode === "merge" ? t("edit_merge_done", { n: merging.size + 1 }) : t("edit_merge");
    merge.classList.toggle("active", mode === "merge");
  }

  function renderForm() {
    // on a phone the panel steps down while picking (the map takes the taps) and up to half the screen for a form
    document.body.classList.toggle("editing-pick", open && !selected);
    document.body.classList.toggle("editing-form", open && !!selected);
    if (!node) return;
    const area = node.querySelector(".edit-form");
    node.querySelector(".edit-conflict").replaceChildren();
    if (!selected) {
      area.replaceChildren(el("p", { class: "hint" }, t("edit_pick")));
    } else {
      const fields = renderFields();
      area.replaceChildren(
        el("h3", {}, selected.fid === null ? t("edit_new_feature") : t("edit_feature", { fid: selected.fid, version: selected.version })),
        el("form", { onsubmit: (e) => { e.preventDefault(); save(); }, oninput: () => {
          const now = { ...selected.properties, ...values() };
          for (const field of form.fields) node.querySelector(`[data-row="${field.name}"]`).hidden = !shown(field, now);
        } }, fields,
        el("div", { class: "actions" },
          el("button", { type: "button", onclick: () => discard() }, t("edit_cancel")),
          el("button", { type: "submit", "data-edit": "save" }, t("edit_save")))));
    }
    renderButtons();
  }

  async function chooseLayer(next) {
    if (selected && !(await leave())) return;
    slug = next;
    renderSnapChoices();
    await loadForm();
    await loadFeatures();
    if (!node) return; // the tool was closed while its layer loaded
    renderForm();
    node.querySelector("[data-edit=add]").textContent = t(`edit_add_${(DRAW[simpleType(layersBySlug[slug])] || "Polygon").toLowerCase()}`);
  }

  map.on("pm:create", created);
  let reloadTimer = null;
  map.on("moveend", () => {
    if (!open || selected) return;
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(loadFeatures, 300);
  });
  map.on("moveend", () => {
    if (open && snap.slug) loadSnap();
  });
  document.addEventListener("keydown", (e) => {
    if (!open || !(e.ctrlKey || e.metaKey) || e.target.closest?.("input, select, textarea")) return;
    const key = e.key.toLowerCase();
    if (key !== "z" && key !== "y") return;
    e.preventDefault();
    if (key === "y" || e.shiftKey) redoStep();
    else undoStep();
  });

  // another user's change, told by the live stream: redraw that feature unless it is being edited here
  async function changed(event) {
    if (!open || event.layer !== slug || event.fid === null) return; // a batch (pushed cases): the tiles redraw it
    if (selected && selected.fid === event.fid) return;
    const old = shapeOf(event.fid);
    if (old) shapes.removeLayer(old);
    if (event.deleted || event.action === "delete") return; // gone: deleted, split, merged into another
    const answer = await call("GET", url("feature", { slug, fid: event.fid }));
    if (answer.ok) addShape({ ...answer.body, id: event.fid });
  }

  return {
    id: "edit",
    glyph: "✎",
    title: "edit_title",
    changed,
    render() {
      open = true;
      document.body.classList.add("editing", "editing-pick");
      node = el("div", { class: "edit-tool" },
        el("label", { for: "edit-layer" }, t("edit_layer")),
        el("select", { id: "edit-layer", onchange: (e) => chooseLayer(e.target.value) },
          editable.map((s) => el("option", { value: s, selected: s === slug || undefined },
            layersBySlug[s] ? layerTitle(layersBySlug[s]) : s))),
        el("div", { class: "edit-buttons", role: "group", "aria-label": t("edit_title") },
          el("button", { type: "button", "data-edit": "add", onclick: startDrawing }, t("edit_add_polygon")),
          el("button", { type: "button", "data-edit": "split", onclick: startSplit }, t("edit_split")),
          el("button", { type: "button", "data-edit": "merge", onclick: mergeButton }, t("edit_merge")),
          el("button", { type: "button", "data-edit": "delete", onclick: remove }, t("edit_delete")),
          el("button", { type: "button", "data-edit": "undo", title: "Ctrl+Z", onclick: undoStep }, t("edit_undo")),
          el("button", { type: "button", "data-edit": "redo", title: "Ctrl+Y", onclick: redoStep }, t("edit_redo"))),
        el("div", { class: "edit-snap" },
          el("button", { type: "button", id: "edit-snap-on", "aria-pressed": String(snap.on), onclick: (e) => {
            setSnap({ on: !snap.on });
            e.currentTarget.setAttribute("aria-pressed", String(snap.on));
          } }, t("edit_snap")),
          el("label", { for: "edit-snap-px" }, t("edit_snap_tolerance")),
          el("input", { type: "number", id: "edit-snap-px", min: "1", max: "60", step: "1", value: String(snap.px),
            onchange: (e) => setSnap({ px: Math.min(60, Math.max(1, Number(e.target.value) || 15)) }) }),
          el("label", { for: "edit-snap-layer", class: "visually-hidden" }, t("edit_snap_layer")),
          el("select", { id: "edit-snap-layer", title: t("edit_snap_layer"), onfocus: renderSnapChoices,
            onchange: (e) => setSnap({ slug: e.target.value }) })),
        el("p", { class: "hint" }, t("edit_hint")),
        el("div", { class: "edit-form" }),
        el("div", { class: "edit-conflict", role: "alert" }),
        el("p", { class: "edit-message", role: "status", "aria-live": "polite" }));
      chooseLayer(slug);
      return node;
    },
    close() {
      open = false;
      map.pm.disableDraw();
      if (selected) discard();
      mode = null;
      shapes.clearLayers();
      snapShapes.clearLayers();
      current.clearLayers();
      document.body.classList.remove("editing", "editing-pick", "editing-form");
      node = null;
    },
  };
}
