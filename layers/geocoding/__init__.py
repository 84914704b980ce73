"""Addresses and coordinates: parsing Taiwanese door-number addresses (門牌), matching them against the
address-point layers of the catalog, an optional TGOS provider, batch geocoding on CSV import, and reading typed
coordinates (TWD97, lon/lat, degrees-minutes-seconds)."""
