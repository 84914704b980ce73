"""The request mix bench/loadtest.py replays with locust (not run on its own: loadtest.py writes the plan it reads
and starts `locust --headless` once per rate). Each simulated user sends one request a second, anonymously, as a
geoportal's visitors and other agencies' GIS clients do:

| share | request |
|---|---|
| 70 % | a vector tile of the public buildings layer, z14–16 over the city, popular ones more often (Zipf) |
| 15 % | a WMS 1.3.0 GetMap of roads, 256², a random view inside the city |
| 8 % | a page of 100 features of roads (`/api/v1/layers/roads/features/?limit=100&offset=…`) |
| 7 % | a catalog search (`/api/v1/layers/?q=…`) |
"""

import itertools
import json
import os
import random

from locust import FastHttpUser, constant_throughput, task

PLAN = json.loads(open(os.environ["CIVGIS_LOAD_PLAN"], encoding="utf-8").read())  # noqa: SIM115 - read once
# the tiles in order of popularity: the i-th asked with weight 1/(i+1), as map traffic concentrates on the centre
CUMULATIVE = list(itertools.accumulate(1 / (i + 1) for i in range(len(PLAN["tiles"]))))


class Visitor(FastHttpUser):
    wait_time = constant_throughput(1)

    @task(70)
    def tile(self):
        z, x, y = random.choices(PLAN["tiles"], cum_weights=CUMULATIVE)[0]
        self.client.get(f"/tiles/{PLAN['tile_layer']}/{z}/{x}/{y}.mvt", name="vector tile")

    @task(15)
    def getmap(self):
        west, south, east, north = PLAN["bbox"]
        span = PLAN["getmap_span"]
        lon, lat = random.uniform(west, east - span), random.uniform(south, north - span)
        self.client.get(f"/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS={PLAN['map_layer']}&STYLES="
                        f"&CRS=EPSG:4326&BBOX={lat},{lon},{lat + span},{lon + span}&WIDTH=256&HEIGHT=256"
                        "&FORMAT=image/png", name="WMS GetMap")

    @task(8)
    def features(self):
        offset = random.randrange(0, max(1, PLAN["feature_count"] - 100))
        self.client.get(f"/api/v1/layers/{PLAN['map_layer']}/features/?limit=100&offset={offset}",
                        name="features page")

    @task(7)
    def search(self):
        self.client.get(f"/api/v1/layers/?q={random.choice(PLAN['words'])}", name="catalog search")
