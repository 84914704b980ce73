// Attribute values as a person reads them: the attribute's label and unit in the page's language, its decimals,
// thousands separators (not in years or codes), areas also in 坪 and 公頃. The server describes each attribute
// (layers/attribute_kinds.py); nothing here guesses from a column's name.
import { config, t } from "./config.js";

const english = config.lang === "en";
const locale = english ? "en" : "zh-TW";
const formats = new Map();
const SQUARE_METRES = new Set(["m²", "平方公尺"]);
const PING_PER_M2 = 121 / 400;

export const attributeLabel = (attribute) => (english && attribute.label_en) || attribute.label || attribute.name;
export const attributeUnit = (attribute) => (english ? attribute.unit_en : attribute.unit) || "";

// "人口密度（人/平方公里）" / "Population density (people/km²)": a column header or a legend title
export function attributeTitle(attribute) {
  const label = attributeLabel(attribute);
  const unit = attributeUnit(attribute);
  if (!unit || attribute.kind === "date" || unit.toLowerCase() === label.toLowerCase()) return label; // not "Floors (floors)"
  return english ? `${label} (${unit})` : `${label}（${unit}）`;
}

export function formatNumber(value, decimals = 0, grouping = true) {
  const key = `${decimals}:${grouping}`;
  if (!formats.has(key)) {
    formats.set(key, new Intl.NumberFormat(locale, { minimumFractionDigits: decimals, maximumFractionDigits: decimals,
      useGrouping: grouping }));
  }
  return formats.get(key).format(value);
}

const decimalsOf = (attribute) => (Number.isInteger(attribute.decimals) ? attribute.decimals : 2);
const grouped = (attribute) => !["date", "identifier"].includes(attribute.kind);

// a category value in the page's language: the attribute's `values` labels (住宅區 → Residential zone), else as stored
export function valueLabel(attribute, value) {
  const named = attribute && attribute.values && attribute.values[String(value)];
  return (named && (english ? named.label_en : named.label)) || String(value);
}

// the bare number, without its unit
export const numberOf = (attribute, value) => formatNumber(value, decimalsOf(attribute), grouped(attribute));

function withUnit(attribute, text) {
  const unit = attributeUnit(attribute);
  return !unit ? text : unit === "%" ? `${text}%` : `${text} ${unit}`;
}

// a value with its unit: "1,234.56 平方公尺（373.5 坪）", "21.3 m", "1996 年", "—" for nothing
export function formatValue(attribute, value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value !== "number") return valueLabel(attribute, value);
  const text = withUnit(attribute, numberOf(attribute, value));
  if (!SQUARE_METRES.has(attributeUnit(attribute))) return text;
  const also = [`${formatNumber(value * PING_PER_M2, 1)} ${t("unit_ping")}`];
  if (value >= 10_000) also.unshift(`${formatNumber(value / 10_000, 2)} ${t("unit_hectare")}`);
  return english ? `${text} (${also.join(", ")})` : `${text}（${also.join("，")}）`;
}

// one figure of a summary (analysis/buffer.py): a sum, an area-weighted estimate ("約 3,475 人") or a mean with
// its range ("平均 1996 年（1988 – 2004）")
export function formatFigure(figure) {
  if (figure.statistic === "estimate") return t("value_about", { value: formatValue(figure, figure.value) });
  if (figure.statistic === "mean") {
    return t("value_mean", { value: formatValue(figure, figure.value), min: numberOf(figure, figure.min),
      max: numberOf(figure, figure.max) });
  }
  return formatValue(figure, figure.value);
}

// a number for a CSV cell: the attribute's decimals, no separators, no float noise (2226.7, not 2226.7000000000003)
export function csvNumber(value, decimals) {
  if (value === null || value === undefined || value === "") return "";
  if (typeof value !== "number") return value;
  return value.toFixed(Number.isInteger(decimals) ? decimals : 2);
}
