// What the server tells the page: the layers this user may see, themes, basemaps, URLs and UI strings.
export const config = JSON.parse(document.getElementById("viewer-config").textContent);

export function t(key, values = {}) {
  let text = config.strings[key] ?? key;
  for (const [name, value] of Object.entries(values)) text = text.replaceAll(`{${name}}`, value);
  return text;
}

export function url(name, params = {}) {
  let template = config.urls[name];
  for (const [key, value] of Object.entries(params)) template = template.replace(`{${key}}`, value);
  return template;
}

export function layerTitle(layer) {
  return config.lang === "en" && layer.title_en ? layer.title_en : layer.title_zh;
}

export const layersBySlug = Object.fromEntries(config.layers.map((l) => [l.slug, l]));

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export const numberFormat = new Intl.NumberFormat(config.lang === "en" ? "en" : "zh-TW", { maximumFractionDigits: 2 });
