"""Hot spots of located events in space and time (issue 22): Getis-Ord Gi* and local Moran's I on counts per grid
cell or polygon (stats.py), the space-time cube and Esri's emerging hot spot categories (emerging.py), and the
analysis jobs whose results are layers (job.py)."""
