"""The OpenAPI 3.0 document of /ogcapi/ (its `service-desc`): the paths of OGC API - Features with their
parameters; the collection ids are those the caller may see."""

from django.conf import settings
from django.urls import reverse
from django.utils import translation


def _parameter(name: str, where: str, schema: dict, description: str, required: bool = False, **extra) -> dict:
    return {"name": name, "in": where, "required": required, "schema": schema, "description": description, **extra}


def document(request, collection_ids: list[str], max_limit: int, crs_list: list[str]) -> dict:
    english = (translation.get_language() or "").lower().startswith("en")
    base = request.build_absolute_uri(reverse("ogcapi-landing")).rstrip("/")
    f = _parameter("f", "query", {"type": "string", "enum": ["json", "html"]},
                   "the answer's format (else the Accept header; default JSON)")
    collection = _parameter("collectionId", "path", {"type": "string", "enum": collection_ids},
                            "a collection: a vector layer you may see", required=True)
    crs = _parameter("crs", "query", {"type": "string", "format": "uri", "enum": crs_list},
                     "the CRS of the answer's geometries (default CRS84, longitude first; EPSG:4326 is latitude "
                     "first)")
    items_parameters = [
        collection, f,
        _parameter("limit", "query", {"type": "integer", "minimum": 1, "maximum": max_limit, "default": 10},
                   "features per page (a larger value is served as the maximum)", style="form", explode=False),
        _parameter("offset", "query", {"type": "integer", "minimum": 0, "default": 0}, "features to skip"),
        _parameter("bbox", "query", {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
                   "minx,miny,maxx,maxy in bbox-crs (default CRS84)", style="form", explode=False),
        _parameter("bbox-crs", "query", {"type": "string", "format": "uri", "enum": crs_list}, "the bbox's CRS"),
        _parameter("datetime", "query", {"type": "string"}, "an instant or interval (start/end, '..' open) on a "
                   "time-enabled layer's time attribute"),
        crs,
        _parameter("filter", "query", {"type": "string"}, "a CQL2 text filter, e.g. land_use = '住宅區' AND "
                   "area_m2 BETWEEN 100 AND 500 or S_INTERSECTS(geometry, BBOX(121.2,24.9,121.3,25.0))"),
        _parameter("filter-lang", "query", {"type": "string", "enum": ["cql2-text"], "default": "cql2-text"},
                   "the filter's language"),
        _parameter("filter-crs", "query", {"type": "string", "format": "uri", "enum": crs_list},
                   "the CRS of the filter's geometry literals (default CRS84)"),
        _parameter("sortby", "query", {"type": "string"}, "properties to sort by, '-' for descending"),
        _parameter("properties", "query", {"type": "string"}, "properties to include, comma-separated"),
    ]
    json_response = {"200": {"description": "OK", "content": {"application/json": {}, "text/html": {}}}}
    geojson_response = {"200": {"description": "GeoJSON", "content": {"application/geo+json": {},
                                                                      "text/html": {}}},
                        "400": {"description": "InvalidParameterValue"},
                        "404": {"description": "NotFound: no such collection, or not one you may see"}}

    def op(operation_id: str, summary: str, parameters: list, responses: dict, tag: str = "Data") -> dict:
        return {"get": {"operationId": operation_id, "summary": summary, "tags": [tag], "parameters": parameters,
                        "responses": responses}}

    return {
        "openapi": "3.0.3",
        "info": {"title": settings.OGC_SERVICE_TITLE_EN if english else settings.OGC_SERVICE_TITLE,
                 "description": "OGC API - Features (Part 1 Core, Part 2 CRS, Part 3 CQL2 text filters)",
                 "version": "1.0.0"},
        "servers": [{"url": base}],
        "components": {"securitySchemes": {"personalToken": {"type": "http", "scheme": "bearer",
                                                             "description": "a personal API token (cgt_…)"}}},
        "security": [{}, {"personalToken": []}],
        "paths": {
            "/": op("getLandingPage", "Landing page", [f], json_response, "Capabilities"),
            "/conformance": op("getConformance", "Conformance classes", [f], json_response, "Capabilities"),
            "/api": op("getApi", "This OpenAPI document", [f], {"200": {"description": "OpenAPI 3.0"}},
                       "Capabilities"),
            "/collections": op("getCollections", "The feature collections you may see", [f], json_response,
                               "Capabilities"),
            "/collections/{collectionId}": op("describeCollection", "One collection", [collection, f],
                                              json_response, "Capabilities"),
            "/collections/{collectionId}/queryables": op("getQueryables", "Its queryable properties (JSON Schema)",
                                                         [collection, f], json_response, "Capabilities"),
            "/collections/{collectionId}/items": op("getFeatures", "Its features, filtered and paged",
                                                    items_parameters, geojson_response),
            "/collections/{collectionId}/items/{featureId}": op(
                "getFeature", "One feature",
                [collection, _parameter("featureId", "path", {"type": "integer"}, "the feature's id", required=True),
                 crs, f], geojson_response),
        },
    }
