"""Facility siting (公有場館選址): suitability of candidate parcels, then location-allocation among the best."""
