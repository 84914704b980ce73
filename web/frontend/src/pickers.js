// The decision pages' pickers: <select>s of the layers the user may see that can play a role (the server lists
// them by geometry and attribute kind, web/pickers.py), of a chosen layer's attributes of suitable kinds (labels
// and units shown), and of an attribute's values (read with the page for the demo layers, else asked for).
import { config, layerTitle, t, url } from "./config.js";
import { getJSON } from "./api.js";
import { attributeLabel, attributeUnit } from "./values.js";
import { el } from "./panel.js";

const picks = config.pickers;
const entries = Object.fromEntries([...config.layers, ...picks.tables].map((l) => [l.slug, l]));
const valueCache = new Map(Object.entries(config.values || {}));

export const layerOf = (slug) => entries[slug] || null;
export const choicesFor = (role) => picks.roles[role] || [];
export const defaultFor = (role) => picks.defaults[role];
export const defaultAttribute = (key) => picks.default_attributes[key];

// "人口數（人）": what an option says about an attribute
export function attributeText(a) {
  const unit = attributeUnit(a);
  return unit && a.kind !== "date" ? t("attribute_with_unit", { label: attributeLabel(a), unit }) : attributeLabel(a);
}

export function attributesOf(slug, kinds) {
  const layer = layerOf(slug);
  const wanted = picks.attribute_kinds[kinds] || kinds;
  return layer ? layer.attributes.filter((a) => wanted.includes(a.kind)) : [];
}

// fill a <select> with the layers of a role; `none` adds an empty choice first (its text)
export function fillLayers(select, role, { selected = defaultFor(role), none = null } = {}) {
  const options = choicesFor(role).map((slug) => el("option", { value: slug, selected: slug === selected },
    layerTitle(layerOf(slug))));
  if (none !== null) options.unshift(el("option", { value: "", selected: !selected }, none));
  select.replaceChildren(...options);
  select.dataset.role = "layers";
}

export function fillAttributes(select, slug, kinds, { selected = null, none = null } = {}) {
  const list = attributesOf(slug, kinds);
  const chosen = list.some((a) => a.name === selected) ? selected : none === null && list.length ? list[0].name : "";
  const options = list.map((a) => el("option", { value: a.name, selected: a.name === chosen }, attributeText(a)));
  if (none !== null) options.unshift(el("option", { value: "", selected: !chosen }, none));
  select.replaceChildren(...options);
}

// a value's label: a sibling attribute naming the codes (land_use for land_use_code, kind_zh for kind) if any
function labelAttribute(slug, attribute) {
  const names = new Set((layerOf(slug)?.attributes || []).map((a) => a.name));
  return [`${attribute}_zh`, attribute.replace(/_code$/, "")].find((n) => n !== attribute && names.has(n)) || "";
}

export async function valuesOf(slug, attribute) {
  const key = `${slug}|${attribute}`;
  if (!valueCache.has(key)) {
    const label = labelAttribute(slug, attribute);
    const query = new URLSearchParams({ attribute, ...(label ? { label } : {}) });
    valueCache.set(key, getJSON(`${url("values", { slug })}?${query}`).then((body) => body.values));
  }
  return valueCache.get(key);
}

export const chosenValues = (slug, attribute) => (config.chosen_values || {})[`${slug}|${attribute}`] || [];
