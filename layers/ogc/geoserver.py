"""GeoServer, driven over its REST API (production and docker-compose).

Everything lives in one workspace (GEOSERVER_WORKSPACE): a PostGIS store on the `layerdata` schema, a feature
type or a GeoTIFF coverage store per layer, a workspace style per layer (SLD 1.0 from layers.ogc.sld), and a
NAMED layer group per theme, nested like the theme tree.

Idempotency: every resource is looked up first, then created (POST) or updated in place (PUT). Updating rather
than deleting and re-creating keeps a re-published layer served throughout and leaves the rest of its GeoServer
configuration (tile caching, group membership) alone.
"""

import functools
from collections.abc import Collection
from pathlib import PurePosixPath

import dj_database_url
import requests
from django.conf import settings
from lxml import etree

from layers.models import DATA_SCHEMA

from . import geoserver_payloads as payloads
from .base import EngineStatus, OGCEngine, OWSResponse, PublishError
from .capabilities_filter import filter_capabilities
from .exceptions import OWSException
from .geoserver_rest import RestSession
from .sld import render_sld

SLD_CONTENT_TYPE = "application/vnd.ogc.sld+xml"
# publishing and map requests may take a while on a busy GeoServer; status() keeps its short timeout
WORK_TIMEOUT_S = 60.0


def theme_group_name(theme) -> str:
    return f"theme-{theme.slug}"  # prefixed: a theme and a layer may share a slug


class GeoServerEngine(OGCEngine):
    name = "geoserver"

    def __init__(self, url: str, user: str, password: str, timeout: float = 5.0, workspace: str | None = None):
        self.url = url.rstrip("/")
        self.auth = (user, password)
        self.timeout = timeout
        self.workspace = workspace or settings.GEOSERVER_WORKSPACE

    @functools.cached_property
    def rest(self) -> RestSession:
        return RestSession(self.url, *self.auth, WORK_TIMEOUT_S)

    def status(self) -> EngineStatus:
        try:
            resp = requests.get(f"{self.url}/rest/about/version.json", auth=self.auth, timeout=self.timeout)
        except requests.RequestException as exc:
            return EngineStatus(self.name, False, detail=f"{self.url} unreachable: {exc}")
        if resp.status_code != 200:
            return EngineStatus(self.name, False, detail=f"{self.url}/rest/about/version.json: HTTP {resp.status_code}")
        resources = resp.json().get("about", {}).get("resource", [])
        version = next((r.get("Version", "") for r in resources if r.get("@name") == "GeoServer"), "")
        return EngineStatus(self.name, True, str(version))

    # -- publishing ------------------------------------------------------------------------------------------

    def _ws(self, *parts: str) -> str:
        return "/".join(["/workspaces", self.workspace, *parts])

    def publish(self, layer) -> None:
        if layer.kind not in ("vector", "raster"):
            raise PublishError(f"layer {layer.slug!r} is a {layer.kind} without geometry: WMS/WFS cannot serve it")
        self._ensure_workspace()
        if layer.kind == "raster":
            self._publish_coverage(layer)
        else:
            self._publish_feature_type(layer)
        self.push_style(layer)
        self._join_theme_groups(layer)

    def _ensure_workspace(self) -> None:
        if not self.rest.exists(self._ws()):
            self.rest.package_call(f"creating workspace {self.workspace!r}", self.rest.package.create_workspace,
                                   self.workspace)

    def _publish_feature_type(self, layer) -> None:
        # Our own requests for store and feature type: geoserver-rest's create_featurestore and
        # publish_featurestore paste the password, titles and abstracts into XML unescaped (an `&` breaks the
        # body), and publish_featurestore POSTs to a URL ending in `/`, which the spec does not have.
        store = self._ws("datastores", DATA_SCHEMA)
        if not self.rest.exists(store):
            # created once and then left alone: a PUT on a store resets GeoServer's connection pool for every
            # layer in it
            db = dj_database_url.parse(settings.GEOSERVER_DATABASE_URL)
            self.rest.send("POST", self._ws("datastores"), payloads.postgis_datastore(DATA_SCHEMA, db, DATA_SCHEMA))
        feature_type = f"{store}/featuretypes/{layer.slug}"
        if self.rest.exists(feature_type):
            self.rest.send("PUT", feature_type, payloads.feature_type(layer))
        else:
            self.rest.send("POST", f"{store}/featuretypes", payloads.feature_type(layer))

    def _publish_coverage(self, layer) -> None:
        if not layer.raster_path:
            raise PublishError(f"raster layer {layer.slug!r} has no file yet (raster_path is empty)")
        store = self._ws("coveragestores", layer.slug)
        tiff = PurePosixPath(settings.GEOSERVER_DATA_PREFIX) / layer.raster_path
        # Our own request: geoserver-rest's create_coveragestore treats any answer but 201 as failure, while the
        # spec documents 200 for this PUT. The PUT creates the store, coverage and layer, or points an existing
        # store at the (re-imported) file.
        self.rest.send("PUT", f"{store}/external.geotiff", f"file:{tiff}".encode(), "text/plain",
                       params={"configure": "first", "coverageName": layer.slug})
        # metadata: the package has no call for updating a coverage
        self.rest.send("PUT", f"{store}/coverages/{layer.slug}", payloads.coverage(layer))

    def push_style(self, layer) -> None:
        sld = render_sld(layer)
        style = self._ws("styles", layer.slug)
        if self.rest.exists(style):
            # our own request: the package's upload_style always POSTs a new style first (a conflict here)
            self.rest.send("PUT", style, sld, SLD_CONTENT_TYPE)
        else:
            self.rest.package_call(f"creating style {layer.slug!r}", self.rest.package.upload_style, sld,
                                   name=layer.slug, workspace=self.workspace)
        self.rest.package_call(f"setting the default style of {layer.slug!r}", self.rest.package.publish_style,
                               layer.slug, f"{self.workspace}:{layer.slug}", self.workspace)

    def _join_theme_groups(self, layer) -> None:
        """The layer in its theme's group, that group in its parent theme's group, up to the root theme."""
        member = (f"{self.workspace}:{layer.slug}", "layer")
        keep = {theme_group_name(layer.theme)} if layer.theme else set()
        self._leave_groups(member[0], keep=keep)  # the layer may have moved to another theme
        theme = layer.theme
        while theme is not None:
            self._add_to_group(theme_group_name(theme), theme.name_zh, member)
            member = (f"{self.workspace}:{theme_group_name(theme)}", "layerGroup")
            theme = theme.parent

    def _add_to_group(self, name: str, title: str, member: tuple[str, str]) -> None:
        # Our own requests for layer groups: geoserver-rest creates them through the global /layergroups/ (with a
        # trailing slash) even for a workspace group, sends `mode` in lower case where the spec's enum is
        # SINGLE/NAMED/CONTAINER/EO, and leaves titles unescaped.
        group = self._ws("layergroups", name)
        if not self.rest.exists(group):
            self.rest.send("POST", self._ws("layergroups"), payloads.layer_group(name, title, self.workspace, [member]))
            return
        old_title, members = payloads.read_layer_group(self.rest.get(group))
        if member not in members or old_title != title:  # a renamed theme retitles its group
            wanted = members if member in members else [*members, member]
            self.rest.send("PUT", group, payloads.layer_group(name, title, self.workspace, wanted))

    def _leave_groups(self, member_name: str, keep: Collection[str] = ()) -> None:
        """Take `member_name` out of every group of the workspace but `keep`."""
        names = payloads.layer_group_names(self.rest.get(self._ws("layergroups")))
        groups = {name: payloads.read_layer_group(self.rest.get(self._ws("layergroups", name))) for name in names}
        self._remove_member(groups, member_name, keep)

    def _remove_member(self, groups: dict, member_name: str, keep: Collection[str]) -> None:
        for name in list(groups):
            if name in keep or name not in groups:  # gone in a recursive call
                continue
            title, members = groups[name]
            left = [m for m in members if m[0] != member_name]
            if len(left) == len(members):
                continue
            group = self._ws("layergroups", name)
            if left:
                groups[name] = (title, left)
                self.rest.send("PUT", group, payloads.layer_group(name, title, self.workspace, left))
            else:
                # GeoServer refuses empty groups, and deleting a group another group holds: leave the parents
                # first, then delete
                del groups[name]
                self._remove_member(groups, f"{self.workspace}:{name}", ())
                self.rest.delete(group)

    def withdraw(self, slug: str) -> None:
        if not self.rest.exists(self._ws()):
            return  # nothing was ever published
        self._leave_groups(f"{self.workspace}:{slug}")
        feature_type = self._ws("datastores", DATA_SCHEMA, "featuretypes", slug)
        if self.rest.exists(feature_type):
            self.rest.delete(feature_type, params={"recurse": "true"})  # with its layer
        if self.rest.exists(self._ws("coveragestores", slug)):
            self.rest.package_call(f"deleting coverage store {slug!r}", self.rest.package.delete_coveragestore,
                                   slug, workspace=self.workspace)
        style = self._ws("styles", slug)
        if self.rest.exists(style):
            # our own request: the package's delete_style does not purge, leaving the .sld file on GeoServer's disk
            self.rest.delete(style, params={"recurse": "true", "purge": "true"})

    # -- serving ---------------------------------------------------------------------------------------------

    def ows(self, params: dict[str, str], body: bytes | None, visible: frozenset[str], url: str = "",
            filters: dict[str, str] | None = None) -> OWSResponse:
        if filters:  # GeoServer would need them as CQL_FILTER: not translated yet, so refused rather than ignored
            raise OWSException("OperationNotSupported", "CIVGIS_FILTER is served by the MapServer engine only; "
                               "use the features API or a download for a filtered layer", "civgis_filter")
        # the workspace's virtual service: layer names are the bare slugs. Requests carry the admin credentials:
        # the platform, not GeoServer, decides who sees what (the caller has checked the layer names).
        service = f"{self.url}/{self.workspace}"
        try:
            if body:
                resp = requests.post(f"{service}/ows", params=params, data=body, auth=self.auth,
                                     headers={"Content-Type": "application/xml"}, timeout=WORK_TIMEOUT_S)
            else:
                resp = requests.get(f"{service}/ows", params=params, auth=self.auth, timeout=WORK_TIMEOUT_S)
        except requests.RequestException as exc:
            raise OWSException("NoApplicableCode", f"GeoServer unreachable: {exc}", status=502) from None
        content_type = resp.headers.get("Content-Type", "application/octet-stream")
        content = resp.content
        if resp.status_code == 200 and "xml" in content_type and _is_capabilities(params, body):
            content = filter_capabilities(content, visible)
            if url:  # clients must come back through /ows (permissions, logging), not to GeoServer itself
                for endpoint in ("ows", "wms", "wfs", "wcs"):
                    content = content.replace(f"{service}/{endpoint}".encode(), url.rstrip("?").encode())
        headers = {k: v for k, v in resp.headers.items() if k.lower() == "content-disposition"}
        return OWSResponse(resp.status_code, content_type, content, headers)


def _is_capabilities(params: dict[str, str], body: bytes | None) -> bool:
    if body:
        try:
            root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError:
            return False
        return etree.QName(root).localname == "GetCapabilities"
    return params.get("REQUEST", "").lower() == "getcapabilities"
