// Bundles the viewer into web/static/web/dist (served by Django/WhiteNoise): no CDN, works offline.
// The 3D view (MapLibre GL, ~1 MB) is split into its own chunk and loaded only when asked for.
import * as esbuild from "esbuild";
import { cpSync, mkdirSync, rmSync } from "node:fs";

const out = "../static/web/dist";
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await esbuild.build({
  // the decision pages (siting wizard, Wi-Fi hotspots, sensors) are entries of their own, sharing chunks with the map
  entryPoints: ["src/main.js", "src/viewer.css", "src/siting.js", "src/wifi.js", "src/sensors.js", "src/decision.css",
    "src/metadata-report.css", "src/events-map.js", "src/dashboard.js", "src/dashboard.css", "src/passkeys.js"],
  bundle: true,
  splitting: true,
  format: "esm",
  minify: true,
  sourcemap: true,
  target: ["es2020"],
  outdir: out,
  loader: { ".png": "file", ".svg": "file" },
  logLevel: "warning",
});
// Leaflet's marker images are referenced by its CSS and L.Icon.Default
cpSync("node_modules/leaflet/dist/images", `${out}/images`, { recursive: true });
// Leaflet as plain files for the standalone HTML maps (siting report, HTML export), which inline them: no CDN
mkdirSync(`${out}/vendor`, { recursive: true });
for (const name of ["leaflet.js", "leaflet.css"]) cpSync(`node_modules/leaflet/dist/${name}`, `${out}/vendor/${name}`);
