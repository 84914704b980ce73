// A layer's stored style (single, categorized or graduated classes) → colours for a feature, for Leaflet paths
// and for MapLibre expressions; the legend draws from the same classes.
import L from "./leaflet-global.js";

// the class a feature falls in (null: none, e.g. a single symbol)
export function classFor(style, properties) {
  const classes = style.classes || [];
  const value = properties[style.attribute];
  if (style.kind === "single") return null;
  if (value === null || value === undefined) return classes.find((c) => c.no_data) || null;
  if (style.kind === "categorized") {
    return classes.find((c) => !c.other && !c.no_data && String(c.value) === String(value))
      || classes.find((c) => c.other) || null;
  }
  if (style.kind === "graduated") {
    return classes.find((c) => !c.no_data && Number(value) >= c.min && Number(value) <= c.max) || null;
  }
  return null;
}

export function colorFor(style, properties) {
  const hit = classFor(style, properties);
  return hit ? hit.color : style.fill_color;
}

export function isLine(layer) {
  return /LineString/.test(layer.geometry_type);
}

export function isPoint(layer) {
  return /Point/.test(layer.geometry_type);
}

const DASHES = { dashed: [6, 4], dotted: [1, 3] }; // per unit of width, as the mapfile's PATTERN

export function dashArray(style, width) {
  const dash = DASHES[style.line_dash];
  return dash ? dash.map((d) => d * Math.max(1, width)).join(" ") : null;
}

// A point symbol as an SVG picture (the shapes the mapfile draws: layers/ogc/mapfile.py SYMBOLS)
const SHAPES = {
  square: "M1 1H23V23H1Z",
  triangle: "M12 1L23 23H1Z",
  star: "M12 1L14.6 8.4L22.5 8.6L16.2 13.4L18.5 21L12 16.5L5.5 21L7.8 13.4L1.5 8.6L9.4 8.4Z",
  marker: "M12 23C12 23 4 14 4 8.5A8 8 0 0 1 20 8.5C20 14 12 23 12 23Z",
};

export function symbolUrl(shape, fill, stroke) {
  const path = SHAPES[shape];
  const svg = path
    ? `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path d="${path}" fill="${fill}" stroke="${stroke}" stroke-width="1.5"/></svg>`
    : `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><circle cx="12" cy="12" r="10.5" fill="${fill}" stroke="${stroke}" stroke-width="1.5"/></svg>`;
  return `data:image/svg+xml,${encodeURIComponent(svg)}`;
}

const icons = {};
function pointIcon(style, color) {
  const size = Math.round(style.point_size * 2);
  const key = `${style.point_symbol}|${color}|${style.stroke_color}|${size}`;
  icons[key] ||= L.icon({ iconUrl: symbolUrl(style.point_symbol, color, style.stroke_color), iconSize: [size, size],
    iconAnchor: style.point_symbol === "marker" ? [size / 2, size] : [size / 2, size / 2] });
  return icons[key];
}

// Leaflet path options for one feature of a vector layer
export function leafletStyle(layer, properties) {
  const style = layer.style;
  const hit = classFor(style, properties);
  const color = hit ? hit.color : style.fill_color;
  const width = (hit && hit.width) || style.stroke_width;
  if (isLine(layer)) return { color, weight: width, opacity: 1, dashArray: dashArray(style, width) };
  if (isPoint(layer)) {
    if (style.point_symbol && style.point_symbol !== "circle") return { icon: pointIcon(style, color) };
    return { radius: style.point_size / 1.5, fill: true, fillColor: color, fillOpacity: 1, color: style.stroke_color,
      weight: 1 };
  }
  return { fill: true, fillColor: color, fillOpacity: 0.75, color: style.stroke_color, weight: width,
    opacity: 0.9, dashArray: dashArray(style, width) };
}

// The zooms a style's scale range (1:min_scale … 1:max_scale) allows, in Leaflet's 256-px Web Mercator zooms
const SCALE_AT_ZOOM_0 = 559082264; // 1:N at zoom 0 for 0.28 mm pixels (OGC's standard rendering pixel)
export function zoomRange(style, minZoom = 0, maxZoom = 20) {
  const from = style.max_scale ? Math.ceil(Math.log2(SCALE_AT_ZOOM_0 / style.max_scale)) : minZoom;
  const to = style.min_scale ? Math.floor(Math.log2(SCALE_AT_ZOOM_0 / style.min_scale)) : maxZoom;
  return [Math.max(minZoom, from), Math.min(maxZoom, to)];
}

// A MapLibre colour expression for the same classes
export function maplibreColor(style) {
  const all = style.classes || [];
  const classes = all.filter((c) => !c.no_data);
  const noData = (all.find((c) => c.no_data) || {}).color;
  // features without a value take the no-data class's colour, not the first class's
  const orNoData = (expression) => (noData
    ? ["case", ["==", ["typeof", ["get", style.attribute]], "null"], noData, expression] : expression);
  if (style.kind === "categorized") {
    const pairs = classes.filter((c) => !c.other).flatMap((c) => [String(c.value), c.color]);
    const other = (classes.find((c) => c.other) || {}).color || style.fill_color;
    return pairs.length ? orNoData(["match", ["to-string", ["get", style.attribute]], ...pairs, other]) : style.fill_color;
  }
  if (style.kind === "graduated" && classes.length) {
    const steps = classes.slice(1).flatMap((c) => [c.min, c.color]);
    return orNoData(["step", ["to-number", ["get", style.attribute], 0], classes[0].color, ...steps]);
  }
  return style.fill_color;
}
