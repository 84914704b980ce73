// The layer dialog (the panel's ⓘ): a layer's general facts, attributes and metadata in three tabs, with its
// metadata completeness. Its editors (owner agency, admins: the API's `can_edit`) change them in place and save
// with one PATCH /api/v1/layers/{slug}/; the server's complaints appear beside the fields they name; a saved
// change shows in the panel at once. Everyone else reads the same tabs without inputs.
import { config, csrfToken, layersBySlug, layerTitle, numberFormat, t, url } from "./config.js";
import { el, layerChanged } from "./panel.js";
import { attributeLabel } from "./values.js";

const TABS = ["general", "attributes", "metadata"];
const ATTRIBUTE_KINDS = ["identifier", "category", "count", "measure", "ratio", "money", "date", "text"];
const TOPICS = Object.keys(config.strings).filter((k) => k.startsWith("topic_")).map((k) => k.slice(6));
const FREQUENCIES = Object.keys(config.strings).filter((k) => k.startsWith("freq_")).map((k) => k.slice(5));
// which tab holds each field the server may complain about
const TAB_OF = { attribute_descriptions: "attributes", attribute_labels: "attributes", time_attribute: "attributes" };
const METADATA = ["keywords", "topic_category", "lineage", "source", "license", "update_frequency", "contact_name",
  "contact_organisation", "contact_email", "contact_phone", "scale_denominator", "resolution_m", "temporal_start",
  "temporal_end", "creation_date", "revision_date"];
for (const field of METADATA) TAB_OF[field] = "metadata";

const dialog = () => document.getElementById("metadata-dialog");
const themeName = (theme) => (config.lang === "en" && theme.name_en ? theme.name_en : theme.name_zh);
const list = (items) => items.join(config.lang === "en" ? ", " : "、");

// one labelled field: an input (or select / textarea) with its message slot, or, read-only, the value as text
function field(name, label, control, { hint } = {}) {
  const id = `ld-${name}`;
  control.id = id;
  control.name = name;
  const message = el("span", { class: "field-error", id: `${id}-error`, role: "alert" });
  control.setAttribute("aria-describedby", `${id}-error${hint ? ` ${id}-hint` : ""}`);
  return el("div", { class: "field", "data-field": name }, el("label", { for: id }, label), control,
    hint ? el("span", { class: "hint", id: `${id}-hint` }, hint) : null, message);
}

const input = (value, attrs = {}) => el("input", { value: value ?? "", ...attrs });
const textarea = (value, rows = 3) => {
  const box = el("textarea", { rows: String(rows) });
  box.value = value ?? "";
  return box;
};
function select(value, options, { empty = true, multiple = false } = {}) {
  const box = el("select", { multiple }, empty ? el("option", { value: "" }, t("ld_choose")) : null,
    options.map(([code, label]) => el("option", { value: code }, label)));
  if (multiple) for (const option of box.options) option.selected = value.includes(option.value);
  else box.value = value ?? "";
  return box;
}

// what the layer is; an editor sees only what the form below does not hold
function facts(info, edit) {
  const kind = [t(`kind_${info.kind}`), info.geometry_type ? t(`geometry_${info.geometry_type}`) : ""].filter(Boolean);
  const described = edit ? [] : [
    [t("meta_title"), layerTitle(info)], [t("meta_theme"), info.theme_path.join(" › ")],
    [t("meta_agency"), info.owner_agency], [t("meta_abstract"), info.abstract]];
  const rows = [...described, [t("meta_kind"), kind.join(" · ")],
    [t("meta_count"), numberFormat.format(info.feature_count)],
    ...(edit ? [] : [[t("meta_visibility"), t(`visibility_${info.visibility}`)]]),
    [t("meta_crs"), info.source_crs ? `${info.source_crs} → EPSG:${info.srid}` : `EPSG:${info.srid}`],
    [t("meta_updated"), [info.version ? `v${info.version}` : "", info.updated_at.slice(0, 10)].filter(Boolean).join(" · ")],
    // the same features for QGIS, GDAL and other agencies: OGC API - Features (its HTML page links the JSON)
    ...(info.kind === "vector" && info.table_name ? [[t("meta_service"), el("a", {
      class: "ld-ogcapi", href: `${url("ogcapi_collection", { slug: info.slug })}?f=html`, target: "_blank",
      rel: "noopener" }, "OGC API - Features")]] : []),
  ];
  return el("dl", { class: "facts" }, rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v || "—")]));
}

function generalTab(info, edit) {
  if (!edit) return [facts(info, false)];
  const choices = info.edit_choices;
  const themes = config.themes.map((theme) => [theme.slug, themeName(theme)]);
  const agencies = [...new Set([...(info.owner_agency ? [info.owner_agency] : []), ...choices.agencies])];
  const groups = el("div", { class: "field-group", "data-shows": "restricted" },
    field("allowed_groups", t("md_allowed_groups"),
      select(info.allowed_groups, choices.groups.map((g) => [g, g]), { empty: false, multiple: true }),
      { hint: t("ld_allowed_groups_hint") }));
  const visibility = select(info.visibility, ["public", "internal", "restricted"].map((v) => [v, t(`visibility_${v}`)]),
    { empty: false });
  const showGroups = () => (groups.hidden = visibility.value !== "restricted");
  visibility.addEventListener("change", showGroups);
  showGroups();
  return [facts(info, true),
    field("title_zh", t("md_title_zh"), input(info.title_zh, { required: true, maxlength: "200" })),
    field("title_en", t("md_title_en"), input(info.title_en, { maxlength: "200", lang: "en" })),
    field("theme", t("meta_theme"), select(info.theme, themes)),
    field("abstract", t("ld_description"), textarea(info.abstract, 4)),
    // who may see or own it: for those with the manage right (accounts.rights); the others see them as facts
    ...((info.rights || []).includes("manage") ? [
      field("owner_agency", t("md_owner_agency"), select(info.owner_agency, agencies.map((a) => [a, a]))),
      field("visibility", t("md_visibility"), visibility), groups] : [])];
}

// the attributes that can make the layer time-enabled (dates and date-times), offered by their labels
const isTime = (a) => a.type === "date" || String(a.type || "").startsWith("timestamp");

function timeField(info, edit) {
  const choices = info.attributes.filter(isTime);
  if (!edit) {
    const chosen = info.attributes.find((a) => a.name === info.time_attribute);
    return el("p", { class: "ld-time" }, `${t("ld_time_attribute")}：${chosen ? attributeLabel(chosen) : t("ld_time_off")}`);
  }
  const box = el("select", {}, el("option", { value: "" }, t("ld_time_off")),
    choices.map((a) => el("option", { value: a.name }, attributeLabel(a))));
  box.value = info.time_attribute || "";
  return field("time_attribute", t("ld_time_attribute"), box,
    { hint: choices.length ? t("ld_time_hint") : t("ld_time_none") });
}

function attributesTab(info, edit) {
  if (!info.attributes.length) return [el("p", { class: "hint" }, t("ld_no_attributes"))];
  const time = info.kind === "vector" ? timeField(info, edit) : null;
  const head = ["ld_attr_name", "ld_attr_label", "ld_attr_label_en", "ld_attr_unit", "ld_attr_unit_en", "ld_attr_kind"];
  const cell = (a, key) => {
    const text = key === "kind" ? (a.kind ? t(`attr_kind_${a.kind}`) : "") : a[key] || "";
    if (!edit) return el("td", {}, text || "—");
    const label = `${t(`ld_attr_${key}`)}：${a.name}`;
    const control = key === "kind"
      ? select(a.kind, ATTRIBUTE_KINDS.map((k) => [k, t(`attr_kind_${k}`)]), { empty: false })
      : input(a[key] || "", { maxlength: "100" });
    control.setAttribute("aria-label", label);
    control.dataset.attribute = a.name;
    control.dataset.key = key;
    return el("td", {}, control);
  };
  const rows = info.attributes.map((a) => el("tr", { "data-attribute": a.name }, el("th", { scope: "row" },
    el("code", {}, a.name)), ["label", "label_en", "unit", "unit_en", "kind"].map((key) => cell(a, key))));
  return [time, el("div", { class: "table-box" }, el("table", { class: "ld-attributes" },
    el("thead", {}, el("tr", {}, head.map((key) => el("th", { scope: "col" }, t(key))))), el("tbody", {}, rows))),
  el("span", { class: "field-error", "data-field": "attribute_descriptions", role: "alert" })];
}

function completeness(info) {
  const { score, missing } = info.completeness;
  return el("div", { class: "completeness" },
    el("label", { for: "ld-score" }, t("ld_completeness")),
    el("meter", { id: "ld-score", min: "0", max: "100", low: "50", high: "80", optimum: "100", value: String(score) }),
    el("strong", {}, t("ld_score", { score })),
    el("p", { class: "hint" }, missing.length ? t("ld_missing", { fields: list(missing.map((m) => m.label)) })
      : t("ld_complete")));
}

// the layer's record as ISO 19139 XML (TWSMP) to download; for its editors, a record (e.g. from TGOS) to fill the
// metadata from (POST …/metadata/import/?apply=true), the dialog reopened on what was saved
function isoTools(info, edit) {
  const base = url("layer", { slug: info.slug });
  const download = el("a", { class: "button", id: "ld-iso-download", href: `${base}metadata.xml`,
    download: `${info.slug}-iso19139.xml` }, t("ld_iso_download"));
  if (!edit) return el("p", { class: "ld-iso" }, download);
  const note = el("span", { class: "ld-iso-status", role: "status", "aria-live": "polite" });
  const file = el("input", { type: "file", accept: ".xml,application/xml,text/xml", id: "ld-iso-file", class: "visually-hidden" });
  file.addEventListener("input", (e) => e.stopPropagation());  // not an edit of the form
  file.addEventListener("change", async (e) => {
    e.stopPropagation();
    if (!file.files.length) return;
    const body = new FormData();
    body.append("file", file.files[0]);
    note.textContent = t("ld_iso_importing");
    const response = await fetch(`${base}metadata/import/?apply=true`, { method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken() }, body }).catch(() => null);
    const answer = response && (response.headers.get("Content-Type") || "").includes("json") ? await response.json() : null;
    file.value = "";
    if (!response || !response.ok) {
      const first = answer && typeof answer === "object" ? Object.values(answer).flat()[0] : null;
      note.textContent = t("ld_iso_failed", { why: first || (response ? `HTTP ${response.status}` : t("upload_network")) });
      return;
    }
    const saved = await openLayerDialog(info.slug, "metadata");
    if (saved) updateEntry(saved);  // the panel follows (titles), as after a save
    const shownNote = dialog().querySelector(".ld-iso-status");
    if (shownNote) shownNote.textContent = t("ld_iso_imported", { n: answer.changes.length });
  });
  const pick = el("label", { for: "ld-iso-file", class: "button" }, t("ld_iso_import"));
  return el("p", { class: "ld-iso" }, download, " ", pick, file, " ", note);
}

function metadataTab(info, edit) {
  const shown = (name, value) => [el("dt", {}, t(`md_${name}`)), el("dd", {}, value || "—")];
  if (!edit) {
    const range = [info.temporal_start, info.temporal_end].filter(Boolean).join(" – ");
    const scale = [info.scale_denominator ? `1:${numberFormat.format(info.scale_denominator)}` : "",
      info.resolution_m ? `${numberFormat.format(info.resolution_m)} ${t("ld_unit_m")}` : ""].filter(Boolean).join(" · ");
    return [completeness(info), isoTools(info, false), el("dl", { class: "facts" },
      shown("keywords", list(info.keywords)), shown("topic_category", info.topic_category && t(`topic_${info.topic_category}`)),
      shown("lineage", info.lineage), shown("source", info.source), shown("license", info.license),
      shown("update_frequency", info.update_frequency && t(`freq_${info.update_frequency}`)),
      shown("contact_name", info.contact_name), shown("contact_organisation", info.contact_organisation),
      shown("contact_email", info.contact_email), shown("contact_phone", info.contact_phone),
      shown("scale", scale), shown("temporal_extent", range), shown("creation_date", info.creation_date),
      shown("revision_date", info.revision_date))];
  }
  const date = (value) => input(value, { type: "date" });
  const number = (value, attrs) => input(value ?? "", { type: "number", inputmode: "decimal", ...attrs });
  const group = (legend, ...fields) => el("fieldset", {}, el("legend", {}, legend), fields);
  return [completeness(info), isoTools(info, true),
    field("keywords", t("md_keywords"), input(info.keywords.join("、")), { hint: t("ld_keywords_hint") }),
    field("topic_category", t("md_topic_category"), select(info.topic_category, TOPICS.map((c) => [c, t(`topic_${c}`)]))),
    field("lineage", t("md_lineage"), textarea(info.lineage, 3)),
    group(t("ld_origin"), field("source", t("md_source"), input(info.source, { maxlength: "300" })),
      field("license", t("md_license"), input(info.license, { maxlength: "200" })),
      field("update_frequency", t("md_update_frequency"),
        select(info.update_frequency, FREQUENCIES.map((c) => [c, t(`freq_${c}`)])))),
    group(t("ld_contact"), field("contact_name", t("md_contact_name"), input(info.contact_name, { autocomplete: "name" })),
      field("contact_organisation", t("md_contact_organisation"), input(info.contact_organisation)),
      field("contact_email", t("md_contact_email"), input(info.contact_email, { type: "email", autocomplete: "email" })),
      field("contact_phone", t("md_contact_phone"), input(info.contact_phone, { type: "tel", autocomplete: "tel" }))),
    group(t("ld_extent"),
      field("scale_denominator", `${t("md_scale_denominator")}（1:…）`,
        number(info.scale_denominator, { min: "1", step: "1" })),
      field("resolution_m", `${t("md_resolution_m")}（${t("ld_unit_m")}）`, number(info.resolution_m, { min: "0", step: "any" })),
      field("temporal_start", t("md_temporal_start"), date(info.temporal_start)),
      field("temporal_end", t("md_temporal_end"), date(info.temporal_end))),
    group(t("ld_dates"), field("creation_date", t("md_creation_date"), date(info.creation_date)),
      field("revision_date", t("md_revision_date"), date(info.revision_date)))];
}

// what the form says now, as the API's fields (empty numbers and dates are null; keywords a list)
function formValues(form) {
  const out = {};
  for (const control of form.querySelectorAll("[name]")) {
    const name = control.name;
    if (control.multiple) out[name] = [...control.selectedOptions].map((o) => o.value);
    else if (name === "keywords") out[name] = control.value.split(/[,，、;；]/).map((k) => k.trim()).filter(Boolean);
    else if (control.type === "number") out[name] = control.value === "" ? null : Number(control.value);
    else if (control.type === "date") out[name] = control.value || null;
    else if (["theme", "owner_agency"].includes(name)) out[name] = control.value || null;
    else out[name] = control.value;
  }
  const attributes = {};
  for (const control of form.querySelectorAll("[data-attribute]")) {
    (attributes[control.dataset.attribute] ||= {})[control.dataset.key] = control.value;
  }
  if (Object.keys(attributes).length) out.attribute_descriptions = attributes;
  return out;
}

// only what changed: an unchanged form saves nothing and a PATCH never rewrites what someone else just saved
function changes(before, now) {
  const diff = {};
  for (const [key, value] of Object.entries(now)) {
    if (key === "attribute_descriptions") {
      const edits = {};
      for (const [name, described] of Object.entries(value)) {
        const old = before.attribute_descriptions[name] || {};
        const edit = Object.fromEntries(Object.entries(described).filter(([k, v]) => (old[k] || "") !== v));
        if (Object.keys(edit).length) edits[name] = edit;
      }
      if (Object.keys(edits).length) diff[key] = edits;
    } else if (JSON.stringify(value) !== JSON.stringify(before[key])) diff[key] = value;
  }
  return diff;
}

function showErrors(form, body) {
  for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
  for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
  let first = null;
  for (const [name, problem] of Object.entries(body || {})) {
    const text = Array.isArray(problem) ? problem.join(" ")
      : typeof problem === "object" ? Object.entries(problem).map(([k, v]) => `${k}：${v}`).join("；") : String(problem);
    const slot = form.querySelector(`[data-field="${CSS.escape(name)}"] .field-error, .field-error[data-field="${CSS.escape(name)}"]`);
    if (!slot) continue;
    slot.textContent = text;
    const control = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (control) control.setAttribute("aria-invalid", "true");
    first ||= name;
  }
  return first;
}

// the viewer's own entry of the layer follows a saved change: the panel's tree, legend titles, identify labels
function updateEntry(info) {
  const entry = layersBySlug[info.slug];
  if (!entry) return;
  Object.assign(entry, { title_zh: info.title_zh, title_en: info.title_en, theme: info.theme,
    visibility: info.visibility, source: info.source });
  // the time slider follows a time attribute chosen or switched off
  if (entry.kind === "vector") entry.time = info.time_extent ? { attribute: info.time_attribute, extent: info.time_extent } : null;
  for (const attribute of entry.attributes || []) {
    const saved = info.attributes.find((a) => a.name === attribute.name);
    if (saved) for (const key of ["label", "label_en", "unit", "unit_en", "kind"]) attribute[key] = saved[key];
  }
  layerChanged(info.slug);
}

function described(info) {
  return Object.fromEntries(info.attributes.map((a) => [a.name,
    { label: a.label || "", label_en: a.label_en || "", unit: a.unit || "", unit_en: a.unit_en || "", kind: a.kind || "" }]));
}

function render(box, info, tab) {
  const edit = info.can_edit;
  const status = el("p", { class: "ld-status", role: "status", "aria-live": "polite" });
  const tabs = el("div", { role: "tablist", class: "ld-tabs", "aria-label": layerTitle(info) });
  const panels = {};
  const form = el("form", { class: "ld-form", novalidate: true });
  const choose = (name, focus = false) => {
    for (const button of tabs.children) {
      const on = button.dataset.tab === name;
      button.setAttribute("aria-selected", String(on));
      button.tabIndex = on ? 0 : -1;
      if (on && focus) button.focus();
    }
    for (const [key, panel] of Object.entries(panels)) panel.hidden = key !== name;
  };
  for (const name of TABS) {
    tabs.append(el("button", { type: "button", role: "tab", id: `ld-tab-${name}`, "aria-controls": `ld-panel-${name}`,
      "data-tab": name, onclick: () => choose(name) }, t(`ld_tab_${name}`)));
    const content = { general: generalTab, attributes: attributesTab, metadata: metadataTab }[name](info, edit);
    panels[name] = el("div", { role: "tabpanel", id: `ld-panel-${name}`, "aria-labelledby": `ld-tab-${name}`,
      class: "ld-panel" }, content);
    form.append(panels[name]);
  }
  tabs.addEventListener("keydown", (e) => {  // arrow keys move between tabs (the ARIA tabs pattern)
    const step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
    if (!step) return;
    const at = TABS.indexOf(tabs.querySelector("[aria-selected=true]").dataset.tab);
    choose(TABS[(at + step + TABS.length) % TABS.length], true);
  });
  const before = { ...info, attribute_descriptions: described(info) };
  if (edit) {
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const diff = changes(before, formValues(form));
      if (!Object.keys(diff).length) {
        status.textContent = t("ld_saved");
        return;
      }
      status.textContent = t("ld_saving");
      const response = await fetch(url("layer", { slug: info.slug }), { method: "PATCH", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() }, body: JSON.stringify(diff) });
      const answer = (response.headers.get("Content-Type") || "").includes("json") ? await response.json() : null;
      if (!response.ok) {
        const first = showErrors(form, answer);
        status.textContent = first ? t("ld_save_failed") : (answer && answer.detail) || `HTTP ${response.status}`;
        if (first) choose(TAB_OF[first] || "general");
        return;
      }
      showErrors(form, {});
      updateEntry(answer);
      render(box, answer, tabs.querySelector("[aria-selected=true]").dataset.tab);
      box.querySelector(".ld-status").textContent = t("ld_saved");
      form.dataset.dirty = "";
    });
    form.addEventListener("input", () => (form.dataset.dirty = "1"));
  }
  const actions = edit ? el("div", { class: "ld-actions" }, status, el("button", { type: "submit", class: "primary" }, t("ld_save")))
    : el("p", { class: "hint ld-readonly" }, t("ld_read_only"));
  form.append(actions);
  box.replaceChildren(tabs, form,
    el("p", { class: "ld-report" }, el("a", { href: url("metadata_page") }, t("ld_report_link"))));
  choose(TABS.includes(tab) ? tab : "general");
  dialog().querySelector("h2").textContent = layerTitle(info);
}

export async function openLayerDialog(slug, tab = "general") {
  const box = dialog().querySelector(".body");
  dialog().classList.add("layer-dialog");
  dialog().querySelector("h2").textContent = layersBySlug[slug] ? layerTitle(layersBySlug[slug]) : "";
  box.textContent = t("loading");
  if (!dialog().open) dialog().showModal();
  const response = await fetch(url("layer", { slug }), { credentials: "same-origin" }).catch(() => null);
  if (!response || !response.ok) {  // a layer one may not see reads as a missing one
    box.replaceChildren(el("p", { role: "alert" }, response ? t("ld_not_found") : t("upload_network")));
    return;
  }
  const info = await response.json();
  render(box, info, tab);
  return info;
}

// a closing dialog with unsaved edits asks first (Escape, or its close button: caught before the button's own
// handler closes it)
export function guardUnsaved() {
  const keep = () => {
    const form = dialog().querySelector(".ld-form");
    return Boolean(form && form.dataset.dirty) && !window.confirm(t("ld_unsaved"));
  };
  dialog().addEventListener("cancel", (e) => keep() && e.preventDefault());
  dialog().addEventListener("click", (e) => {
    if (e.target.closest("[data-close]") && keep()) e.stopPropagation();
  }, true);
}

// /?layer_dialog=slug&tab=metadata (the 詮釋資料 report's links): open that layer's dialog when the map opens
export function openRequestedDialog() {
  const params = new URLSearchParams(location.search);
  const slug = params.get("layer_dialog");
  if (slug) openLayerDialog(slug, params.get("tab") || "general");
}
