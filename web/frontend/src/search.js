// Place search over layer attributes (village, road, facility names …): results listed, the chosen one zoomed to.
import { config, t, url } from "./config.js";

export function createSearch(form, list, zoomTo) {
  const input = form.querySelector("input");
  let results = [];

  function choose(i) {
    const hit = results[i];
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    zoomTo(hit);
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const q = input.value.trim();
    if (!q) return;
    const response = await fetch(`${url("search")}?q=${encodeURIComponent(q)}`, { credentials: "same-origin" });
    results = response.ok ? (await response.json()).results : [];
    list.replaceChildren();
    if (!results.length) {
      const li = document.createElement("li");
      li.textContent = t("search_none", { q });
      list.append(li);
    }
    results.forEach((hit, i) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      const title = config.lang === "en" && hit.layer_title_en ? hit.layer_title_en : hit.layer_title_zh;
      button.innerHTML = "<strong></strong> <small></small>";
      button.querySelector("strong").textContent = hit.value;
      button.querySelector("small").textContent = hit.count > 1 ? `${title} · ${t("search_parts", { n: hit.count })}` : title;
      button.addEventListener("click", () => choose(i));
      li.append(button);
      list.append(li);
    });
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    if (results.length === 1 || (results.length && results[0].value === q)) choose(0);
    else list.querySelector("button")?.focus();
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !list.hidden) {
      list.hidden = true;
      input.focus();
    }
  });
}
