"""Everything that reads a layer for a client: features, tiles, downloads, raster tiles, usage counts."""
