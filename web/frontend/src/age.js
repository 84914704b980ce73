// How old a reading is, in the page's language ("37 天前", "3 hours ago"), by the browser's own Intl.
import { config } from "./config.js";

const relative = new Intl.RelativeTimeFormat(config.lang === "en" ? "en" : "zh-TW", { numeric: "always" });

export function ago(seconds) {
  if (seconds < 3600) return relative.format(-Math.max(1, Math.round(seconds / 60)), "minute");
  if (seconds < 2 * 86400) return relative.format(-Math.round(seconds / 3600), "hour");
  return relative.format(-Math.round(seconds / 86400), "day");
}
