// Small charts in plain SVG (no chart package): a time series with its range and a row of bars. Each chart
// carries a text alternative (aria-label) naming what it shows and its extremes.
import { numberFormat } from "./config.js";

const NS = "http://www.w3.org/2000/svg";
const W = 360;
const H = 150;
const PAD = { left: 44, right: 8, top: 10, bottom: 24 };

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== null) node.textContent = text;
  return node;
}

function frame(label) {
  return svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, class: "chart" });
}

// points: [{x: Date, y: number}] in time order; label: what is drawn (and its unit)
export function lineChart(container, points, label) {
  const values = points.map((p) => p.y).filter((v) => v !== null && Number.isFinite(v));
  const lo = Math.min(0, ...values);
  const hi = Math.max(...values, lo + 1);
  const t0 = points[0].x.getTime();
  const t1 = Math.max(points[points.length - 1].x.getTime(), t0 + 1);
  const x = (d) => PAD.left + ((d.getTime() - t0) / (t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - ((v - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  const day = (d) => d.toISOString().slice(5, 10);
  const chart = frame(`${label}：${numberFormat.format(Math.min(...values))}–${numberFormat.format(Math.max(...values))}`
    + `（${day(points[0].x)}–${day(points[points.length - 1].x)}）`);
  chart.append(
    svg("line", { x1: PAD.left, y1: y(lo), x2: W - PAD.right, y2: y(lo), class: "axis" }),
    svg("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom, class: "axis" }),
    svg("text", { x: PAD.left - 4, y: y(hi) + 4, "text-anchor": "end" }, numberFormat.format(hi)),
    svg("text", { x: PAD.left - 4, y: y(lo), "text-anchor": "end" }, numberFormat.format(lo)),
    svg("text", { x: PAD.left, y: H - 6 }, day(points[0].x)),
    svg("text", { x: W - PAD.right, y: H - 6, "text-anchor": "end" }, day(points[points.length - 1].x)),
    svg("polyline", { points: points.filter((p) => Number.isFinite(p.y)).map((p) => `${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(" "),
      class: "series" }),
  );
  container.replaceChildren(chart);
  return chart;
}

// bars: [{label, value}]; the bars share one scale from 0 to the largest value
export function barChart(container, bars, label) {
  const top = Math.max(...bars.map((b) => b.value), 1e-9);
  const step = (W - PAD.left - PAD.right) / bars.length;
  const room = H - PAD.top - PAD.bottom - 12; // the tallest bar leaves room for its figure above it
  const chart = frame(`${label}：${bars.map((b) => `${b.label} ${numberFormat.format(b.value)}`).join("、")}`);
  bars.forEach((b, i) => {
    const h = (b.value / top) * room;
    const x0 = PAD.left + i * step + step * 0.15;
    chart.append(
      svg("rect", { x: x0, y: H - PAD.bottom - h, width: step * 0.7, height: Math.max(h, 0.5), class: "bar" }),
      svg("text", { x: x0 + step * 0.35, y: H - 6, "text-anchor": "middle" }, b.label),
      svg("text", { x: x0 + step * 0.35, y: H - PAD.bottom - h - 3, "text-anchor": "middle" },
        numberFormat.format(Math.round(b.value))),
    );
  });
  chart.append(svg("line", { x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom, class: "axis" }));
  container.replaceChildren(chart);
  return chart;
}
