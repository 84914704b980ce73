// The colours readings are drawn in, shared by the sensors page and the viewer's time slider (timeplay.js):
// PM2.5 in the classes of Taiwan's AQI (μg/m³), anything else on its own spread, low to high.
export const PM25_CLASSES = [[15.4, "#00e400"], [35.4, "#ffff00"], [54.4, "#ff7e00"], [150.4, "#ff0000"], [Infinity, "#8f3f97"]];
export const SPREAD = ["#2c7bb6", "#abd9e9", "#ffffbf", "#fdae61", "#d7191c"];

export function colorScale(quantity, values) {
  if (quantity === "pm25") return (v) => PM25_CLASSES.find(([top]) => v <= top)[1];
  return spreadScale(values);
}

export function spreadScale(values) {
  const lo = Math.min(...values);
  const hi = Math.max(...values, lo + 1e-9);
  return (v) => SPREAD[Math.min(SPREAD.length - 1, Math.floor(((v - lo) / (hi - lo)) * SPREAD.length))];
}
