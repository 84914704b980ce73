// A layer's stored style (single, categorized or graduated classes) → colours for a feature, for Leaflet paths
// and for MapLibre expressions; the legend draws from the same classes.

export function colorFor(style, properties) {
  const classes = style.classes || [];
  const value = properties[style.attribute];
  if (style.kind !== "single" && (value === null || value === undefined)) {
    return (classes.find((c) => c.no_data) || {}).color || style.fill_color;
  }
  if (style.kind === "categorized") {
    const hit = classes.find((c) => !c.other && !c.no_data && String(c.value) === String(value));
    return hit ? hit.color : (classes.find((c) => c.other) || {}).color || style.fill_color;
  }
  if (style.kind === "graduated") {
    const hit = classes.find((c) => !c.no_data && Number(value) >= c.min && Number(value) <= c.max);
    return hit ? hit.color : style.fill_color;
  }
  return style.fill_color;
}

export function isLine(layer) {
  return /LineString/.test(layer.geometry_type);
}

export function isPoint(layer) {
  return /Point/.test(layer.geometry_type);
}

// Leaflet path options for one feature of a vector layer
export function leafletStyle(layer, properties) {
  const style = layer.style;
  const color = colorFor(style, properties);
  if (isLine(layer)) return { color, weight: style.stroke_width, opacity: 1 };
  if (isPoint(layer)) {
    return { radius: style.point_size / 1.5, fill: true, fillColor: color, fillOpacity: 1, color: style.stroke_color,
      weight: 1 };
  }
  return { fill: true, fillColor: color, fillOpacity: 0.75, color: style.stroke_color, weight: style.stroke_width,
    opacity: 0.9 };
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
