// 樣式編輯: a layer's style edited in the map (single, categorized, graduated; ramps, class colours, line width and
// dash, point symbols, labels, scale ranges, opacity). Each change is previewed on the map through the style API's
// dry run (the server classifies, nothing is saved); Save stores it (the server republishes WMS, SLD and legends),
// Cancel puts the stored style back. Non-modal, so the map stays in view and can be panned while editing.
import { config, layersBySlug, layerTitle, t, url } from "./config.js";
import { el, refreshLegend } from "./panel.js";
import { send } from "./api.js";
import { setOpacity } from "./state.js";
import { attributeTitle } from "./values.js";
import { isLine, isPoint, symbolUrl } from "./symbology.js";

const NUMERIC = new Set(["integer", "bigint", "smallint", "double precision", "real", "numeric"]);
const KINDS = ["single", "categorized", "graduated"];
const METHODS = ["quantiles", "equal_interval", "natural_breaks", "standard_deviation", "manual"];
const SYMBOLS = ["circle", "square", "triangle", "star", "marker"];
const DASHES = ["solid", "dashed", "dotted"];
const SCALES = [1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000];
// what the editor sends (the API's writable fields)
const FIELDS = ["kind", "attribute", "method", "class_count", "manual_breaks", "ramp", "fill_color", "stroke_color",
  "stroke_width", "opacity", "point_size", "point_symbol", "line_dash", "label_attribute", "label_size",
  "label_color", "label_halo_color", "min_scale", "max_scale", "label_min_scale", "label_max_scale"];
// settings whose change makes new classes (an edited class colour no longer belongs to them)
const RECLASSIFY = new Set(["kind", "attribute", "method", "class_count", "manual_breaks", "ramp"]);
const PREVIEW_DELAY_MS = 250;
// the API's field names → the editor's labels, for its error messages
const FIELD_LABELS = { kind: "style_kind", attribute: "style_attribute", method: "style_method",
  class_count: "style_class_count", manual_breaks: "style_breaks", ramp: "style_ramp", classes: "style_classes",
  fill_color: "style_fill", stroke_color: "style_stroke", stroke_width: "style_width", line_dash: "style_dash",
  point_symbol: "style_symbol", point_size: "style_point_size", opacity: "style_layer_opacity",
  label_attribute: "style_label_attribute", label_size: "style_label_size", label_color: "style_label_color",
  label_halo_color: "style_label_halo", min_scale: "style_scale", max_scale: "style_scale",
  label_min_scale: "style_label_scale", label_max_scale: "style_label_scale" };

// a refusal in the editor's words: "分類屬性：圖層沒有屬性 …"
function problemText(e) {
  if (!e.body || typeof e.body !== "object" || typeof e.body.detail === "string") return e.message;
  const flat = (v) => (Array.isArray(v) ? v.map(flat).join(" ") : v && typeof v === "object"
    ? Object.values(v).map(flat).join(" ") : String(v));
  return Object.entries(e.body).map(([field, value]) => (FIELD_LABELS[field]
    ? `${t(FIELD_LABELS[field])}：${flat(value)}` : flat(value))).join("\n");
}
const scaleText = new Intl.NumberFormat(config.lang === "en" ? "en" : "zh-TW");

let open = null; // the editor now open: { slug, close }

function dialogNode() {
  let dialog = document.getElementById("style-editor");
  if (!dialog) {
    dialog = el("dialog", { id: "style-editor", class: "style-editor", "aria-labelledby": "style-editor-title" });
    document.body.append(dialog);
  }
  return dialog;
}

function field(text, control, extra = {}) {
  return el("label", { class: "field", ...extra }, el("span", {}, text), control);
}

function select(options, value, onchange, attrs = {}) {
  return el("select", { ...attrs, onchange: (e) => onchange(e.target.value) },
    options.map(([v, text]) => el("option", { value: v, selected: String(v) === String(value ?? "") }, text)));
}

function gradient(colors) {
  return `linear-gradient(to right, ${colors.join(", ")})`;
}

export async function openStyleEditor(slug, { redraw, status }) {
  if (open) open.close(false);
  const layer = layersBySlug[slug];
  const dialog = dialogNode();
  dialog.replaceChildren(el("p", {}, t("loading")));
  dialog.show();
  const [info, stored] = await Promise.all([send("GET", url("layer", { slug })),
    send("GET", config.style_url.replace("{slug}", slug))]);
  const original = layer.style;
  const draft = Object.fromEntries(FIELDS.map((f) => [f, stored[f]]));
  let classes = stored.classes;
  let editedClasses = null; // class colours/widths the user set, sent with each preview until reclassified
  let timer = null;
  let sequence = 0;
  const attributes = info.attributes.filter((a) => a.name !== "fid");
  const numeric = attributes.filter((a) => NUMERIC.has(a.type));
  const note = el("p", { class: "hint", role: "status", "aria-live": "polite" }, t("style_preview_note"));
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const body = el("div", { class: "style-body" });

  // the stored or previewed style → the map and the legend (the viewer's copy of the layer's style)
  function show(style) {
    layer.style = style;
    setOpacity(slug, style.opacity);
    redraw();
    refreshLegend(slug);
  }

  function payload() {
    const payload = { ...draft };
    if (editedClasses) payload.classes = editedClasses;
    return payload;
  }

  async function preview() {
    const mine = ++sequence;
    note.textContent = t("style_previewing");
    try {
      const answer = await send("PUT", `${config.style_url.replace("{slug}", slug)}?dry_run=true`, payload());
      if (mine !== sequence) return; // a later change already asked again
      classes = answer.classes;
      error.hidden = true;
      note.textContent = t("style_preview_note");
      show(answer);
      render();
    } catch (e) {
      if (mine !== sequence) return;
      error.textContent = problemText(e);
      error.hidden = false;
      note.textContent = "";
    }
  }

  function change(name, value) {
    draft[name] = value;
    if (RECLASSIFY.has(name)) editedClasses = null;
    if (name === "kind" && value === "graduated" && !numeric.some((a) => a.name === draft.attribute)) {
      draft.attribute = numeric[0] ? numeric[0].name : "";
    }
    if (name === "kind" && value === "graduated" && !draft.method) draft.method = "quantiles";
    if (name === "kind" && value === "categorized" && !draft.attribute && attributes[0]) draft.attribute = attributes[0].name;
    clearTimeout(timer);
    timer = setTimeout(preview, PREVIEW_DELAY_MS);
    if (["kind", "method", "label_attribute"].includes(name)) render(); // these show or hide other controls
  }

  function editClass(index, key, value) {
    editedClasses = classes.map((c) => ({ color: c.color, ...(c.width ? { width: c.width } : {}),
      ...(c.other ? { other: true } : {}), ...(c.no_data ? { no_data: true } : {}),
      ...("value" in c ? { value: c.value } : {}) }));
    editedClasses[index][key] = value;
    clearTimeout(timer);
    timer = setTimeout(preview, PREVIEW_DELAY_MS);
  }

  const number = (name, min, max, step) => el("input", { type: "number", min, max, step, value: draft[name],
    inputmode: "decimal", onchange: (e) => e.target.value !== "" && change(name, Number(e.target.value)) });
  const colour = (name) => el("input", { type: "color", value: draft[name].slice(0, 7),
    oninput: (e) => change(name, e.target.value) });
  const scaleSelect = (name, label) => select([["", t("style_scale_any")],
    ...SCALES.map((s) => [s, `1:${scaleText.format(s)}`])], draft[name],
  (v) => change(name, v === "" ? null : Number(v)), { "aria-label": label });

  function kindSection() {
    return el("fieldset", { class: "kinds" }, el("legend", {}, t("style_kind")),
      KINDS.map((kind) => el("label", { class: "choice" },
        el("input", { type: "radio", name: "style-kind", value: kind, checked: draft.kind === kind,
          onchange: () => change("kind", kind) }), t(`kind_${kind}`))));
  }

  function classSection() {
    if (draft.kind === "single") return null;
    const choices = (draft.kind === "graduated" ? numeric : attributes).map((a) => [a.name, attributeTitle(a)]);
    const parts = [field(t("style_attribute"), select(choices, draft.attribute, (v) => change("attribute", v)))];
    if (draft.kind === "graduated") {
      if (!numeric.length) parts.push(el("p", { class: "hint" }, t("style_numeric_only")));
      parts.push(field(t("style_method"), select(METHODS.map((m) => [m, t(`method_${m}`)]), draft.method,
        (v) => change("method", v))));
      if (draft.method === "manual") {
        parts.push(field(t("style_breaks"), el("input", { type: "text", inputmode: "decimal",
          value: (draft.manual_breaks || []).join(", "),
          onchange: (e) => change("manual_breaks", e.target.value.split(/[,，\s]+/).filter(Boolean).map(Number)) })));
      } else {
        parts.push(field(t("style_class_count"), number("class_count", 2, 12, 1)));
      }
      parts.push(el("fieldset", { class: "ramps" }, el("legend", {}, t("style_ramp")),
        Object.entries(config.style_ramps).map(([name, colors]) => el("label", { class: "ramp", title: name },
          el("input", { type: "radio", name: "style-ramp", value: name, checked: draft.ramp === name,
            "aria-label": name, onchange: () => change("ramp", name) }),
          el("span", { class: "ramp-bar", style: `background:${gradient(colors)}`, "aria-hidden": "true" })))));
    }
    parts.push(el("p", { class: "sub" }, t("style_classes")), classList());
    return el("fieldset", {}, el("legend", {}, t("style_classification")), parts);
  }

  function classLabel(c) {
    return c.no_data ? t("legend_no_data") : c.other ? t("legend_other") : String(c.label ?? c.value ?? "");
  }

  function classList() {
    return el("ul", { class: "style-classes", "aria-label": t("style_classes") }, (classes || []).map((c, i) => el("li", {},
      el("input", { type: "color", value: c.color.slice(0, 7), "aria-label": t("style_class_color", { label: classLabel(c) }),
        oninput: (e) => editClass(i, "color", e.target.value) }),
      el("span", { class: "class-label" }, classLabel(c)),
      isLine(layer) ? el("input", { type: "number", min: 0.5, max: 20, step: 0.5, value: c.width || draft.stroke_width,
        class: "class-width", "aria-label": t("style_class_width", { label: classLabel(c) }),
        onchange: (e) => editClass(i, "width", Number(e.target.value)) }) : null)));
  }

  function symbolSection() {
    const parts = [];
    if (draft.kind === "single") parts.push(field(t("style_fill"), colour("fill_color")));
    if (!isLine(layer)) parts.push(field(t("style_stroke"), colour("stroke_color")));
    if (!isPoint(layer)) {
      parts.push(field(t("style_width"), number("stroke_width", 0, 20, 0.5)));
      parts.push(field(t("style_dash"), select(DASHES.map((d) => [d, t(`dash_${d}`)]), draft.line_dash,
        (v) => change("line_dash", v))));
    } else {
      parts.push(el("fieldset", { class: "symbols" }, el("legend", {}, t("style_symbol")),
        SYMBOLS.map((s) => el("label", { class: "symbol", title: t(`symbol_${s}`) },
          el("input", { type: "radio", name: "style-symbol", value: s, checked: draft.point_symbol === s,
            "aria-label": t(`symbol_${s}`), onchange: () => change("point_symbol", s) }),
          el("img", { src: symbolUrl(s, draft.fill_color, draft.stroke_color), alt: "", width: 22, height: 22 })))));
      parts.push(field(t("style_point_size"), number("point_size", 1, 64, 1)));
    }
    parts.push(field(t("style_layer_opacity"), el("input", { type: "range", min: 0, max: 100,
      value: Math.round(draft.opacity * 100), onchange: (e) => change("opacity", Number(e.target.value) / 100) })));
    parts.push(el("div", { class: "scale-range", role: "group", "aria-label": t("style_scale") },
      el("span", {}, t("style_scale")),
      scaleSelect("min_scale", `${t("style_scale")}：${t("style_scale_from")}`),
      el("span", { "aria-hidden": "true" }, "–"),
      scaleSelect("max_scale", `${t("style_scale")}：${t("style_scale_to")}`)));
    return el("fieldset", {}, el("legend", {}, t("style_symbol_section")), parts);
  }

  function labelSection() {
    const parts = [field(t("style_label_attribute"), select([["", t("style_label_none")],
      ...attributes.map((a) => [a.name, attributeTitle(a)])], draft.label_attribute,
    (v) => change("label_attribute", v)))];
    if (draft.label_attribute) {
      parts.push(field(t("style_label_size"), number("label_size", 6, 48, 1)),
        field(t("style_label_color"), colour("label_color")), field(t("style_label_halo"), colour("label_halo_color")),
        el("div", { class: "scale-range", role: "group", "aria-label": t("style_label_scale") },
          el("span", {}, t("style_label_scale")),
          scaleSelect("label_min_scale", `${t("style_label_scale")}：${t("style_scale_from")}`),
          el("span", { "aria-hidden": "true" }, "–"),
          scaleSelect("label_max_scale", `${t("style_label_scale")}：${t("style_scale_to")}`)));
    }
    return el("fieldset", {}, el("legend", {}, t("style_labels")), parts);
  }

  function render() {
    const focused = document.activeElement && dialog.contains(document.activeElement)
      ? document.activeElement.getAttribute("aria-label") || document.activeElement.closest("label")?.textContent : null;
    body.replaceChildren(kindSection(), classSection() || "", symbolSection(), labelSection());
    if (focused) [...body.querySelectorAll("input, select")].find((c) => (c.getAttribute("aria-label")
      || c.closest("label")?.textContent) === focused)?.focus();
  }

  function close(keep) {
    clearTimeout(timer);
    sequence += 1; // a preview still on its way is not shown
    if (!keep) show(original);
    dialog.close();
    open = null;
  }

  async function save() {
    clearTimeout(timer);
    const mine = ++sequence;
    try {
      const answer = await send("PUT", config.style_url.replace("{slug}", slug), payload());
      if (mine !== sequence) return;
      show(answer);
      close(true);
      status.textContent = t("style_saved", { layer: layerTitle(layer) });
    } catch (e) {
      error.textContent = problemText(e);
      error.hidden = false;
    }
  }

  dialog.replaceChildren(
    el("header", {}, el("h2", { id: "style-editor-title" }, t("style_title", { layer: layerTitle(layer) })),
      el("button", { type: "button", class: "icon", "aria-label": t("style_cancel"), title: t("style_cancel"),
        onclick: () => close(false) }, "✕")),
    body, error, note,
    el("div", { class: "actions" },
      el("button", { type: "button", onclick: () => close(false) }, t("style_cancel")),
      el("button", { type: "button", class: "primary", onclick: save }, t("style_save"))));
  dialog.onkeydown = (e) => {
    if (e.key === "Escape") close(false);
  };
  render();
  open = { slug, close };
}
