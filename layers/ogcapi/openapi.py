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

    feature_id = _parameter("featureId", "path", {"type": "integer"}, "the feature's id", required=True)
    if_match = _parameter("If-Match", "header", {"type": "string"}, "the ETag (version) read: a stale one is 412; "
                          "without it the write is to the current version")
    content_crs = _parameter("Content-Crs", "header", {"type": "string"}, "the CRS of the body's geometry, "
                             "<uri> (default CRS84)")
    feature_body = {"required": True, "content": {"application/geo+json": {"schema": {"type": "object"}}}}
    refusals = {"400": {"description": "InvalidParameterValue: a value, a geometry or a form rule, named"},
                "403": {"description": "Forbidden: you may see the collection but not change it this way"},
                "404": {"description": "NotFound: no such collection or feature, or not one you may see"},
                "412": {"description": "PreconditionFailed: If-Match names a stale version (the current ETag is "
                                       "sent)"},
                "423": {"description": "Locked: a WFS lock of another user holds the feature"}}

    def write(operation_id: str, summary: str, parameters: list, ok: dict, body: dict | None = None) -> dict:
        operation = {"operationId": operation_id, "summary": summary, "tags": ["Transactions"],
                     "parameters": parameters, "responses": {**ok, **refusals},
                     "security": [{"personalToken": []}]}
        if body:
            operation["requestBody"] = body
        return operation

    written = {"200": {"description": "the feature as stored, its version as ETag",
                       "content": {"application/geo+json": {}}}}
    paths = {
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
        "/collections/{collectionId}/items/{featureId}": op("getFeature", "One feature (its version as ETag)",
                                                            [collection, feature_id, crs, f], geojson_response),
    }
    # Part 4: create, replace, update, delete (layers.ogcapi.transactions)
    paths["/collections/{collectionId}/items"]["post"] = write(
        "createFeature", "Add a feature (GeoJSON)", [collection, content_crs],
        {"201": {"description": "created: Location and ETag of the new feature"}}, feature_body)
    item_path = paths["/collections/{collectionId}/items/{featureId}"]
    item_path["put"] = write("replaceFeature", "Replace a feature (attributes left out become empty)",
                             [collection, feature_id, if_match, content_crs], written, feature_body)
    item_path["patch"] = write("updateFeature", "Change part of a feature (JSON merge patch)",
                               [collection, feature_id, if_match, content_crs], written,
                               {"required": True, "content": {"application/merge-patch+json": {
                                   "schema": {"type": "object"}}}})
    item_path["delete"] = write("deleteFeature", "Delete a feature", [collection, feature_id, if_match],
                                {"204": {"description": "deleted"}})
    return {
        "openapi": "3.0.3",
        "info": {"title": settings.OGC_SERVICE_TITLE_EN if english else settings.OGC_SERVICE_TITLE,
                 "description": "OGC API - Features (Part 1 Core, Part 2 CRS, Part 3 CQL2 text filters, Part 4 "
                                "create, replace, update, delete)",
                 "version": "1.0.0"},
        "servers": [{"url": base}],
        "components": {"securitySchemes": {"personalToken": {"type": "http", "scheme": "bearer",
                                                             "description": "a personal API token (cgt_…)"}}},
        "security": [{}, {"personalToken": []}],
        "paths": paths,
    }
