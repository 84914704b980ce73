"""OGC API - Features (Part 1 Core, Part 2 CRS, Part 3 CQL2 text filters) at /ogcapi/, over the same serving code as
the REST API and WFS: the same visible layers, the same filters and counts (layers.serving)."""
