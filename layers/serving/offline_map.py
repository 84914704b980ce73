"""folium maps that work with no internet: folium links Leaflet, jQuery, Bootstrap and Font Awesome from CDNs;
here every such link is dropped and the project's own Leaflet (copied from the npm package into the bundle by
web/frontend/build.mjs) is inlined, so a report mailed to a council member or opened in an offline office opens
whole. Only Leaflet's own features may be used on such a map (no folium.Icon, which needs Font Awesome)."""

from pathlib import Path

import folium
from branca.element import Element
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import ImproperlyConfigured

VENDOR = "web/dist/vendor"


def _asset(name: str) -> str:
    found = finders.find(f"{VENDOR}/{name}") or Path(settings.STATIC_ROOT) / VENDOR / name
    path = Path(found)
    if not path.exists():
        raise ImproperlyConfigured(f"static file {VENDOR}/{name} is missing: build the front end (web/frontend, "
                                   "node build.mjs)")
    text = path.read_text(encoding="utf-8")
    return text.replace("</script", "<\\/script")  # never ends the inline element early


def _without_cdn(element) -> None:
    element.default_js = []
    element.default_css = []
    for child in element._children.values():
        _without_cdn(child)


def new_map(**options) -> folium.Map:
    """A folium map with no tile layer (tiles would come from the internet): draw context from own layers."""
    return folium.Map(tiles=None, **options)


def render(fmap: folium.Map, title: str, lang: str) -> str:
    """The whole page, scripts and styles inline, its language declared."""
    _without_cdn(fmap)
    root = fmap.get_root()
    root.title = title
    root.header.add_child(Element(f"<style>{_asset('leaflet.css')}</style>"), name="leaflet_css", index=0)
    root.header.add_child(Element(f"<script>{_asset('leaflet.js')}</script>"), name="leaflet_js", index=1)
    page = root.render()
    return page.replace("<html>", f'<html lang="{"zh-Hant" if lang.startswith("zh") else lang}">', 1)
