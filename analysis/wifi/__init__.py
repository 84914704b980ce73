"""Free Wi-Fi hotspots (免費無線上網熱點): use over time and its flags, coverage and gaps, where to add or move."""
