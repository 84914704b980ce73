"""The whole facility-siting job on the demo city (size 1: ~20k parcels, 61 villages): suitability of every
candidate parcel, allocation of 3 sports centres among the best 1,000 with the existing ones kept, two result
layers and the report. Prints the job's own messages with their times.

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/siting_job.py

Not part of the test suite.
"""

import argparse
import time

import common


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="*", metavar="covering|p_median", help="the models to run (default: both)")
    parser.add_argument("--size", type=float, default=1, help="demo city size (1: ~20k parcels)")
    return parser


if __name__ == "__main__":
    ARGS = common.start(__doc__, arguments())

from django.contrib.auth.models import Group, User  # noqa: E402

from analysis import jobs  # noqa: E402
from analysis.siting import job as siting_job  # noqa: E402

BODY = {
    "candidates": {"layer": "parcels", "filter": {"land_use_code__in": "government,commercial,residential"}},
    "constraints": {"exclude_layers": ["flood-zones"], "min_area_m2": 1500, "max_slope_deg": 10},
    "factors": [{"kind": "distance", "layer": "roads", "prefer": "near", "weight": 1},
                {"kind": "population", "layer": "villages", "attribute": "population", "radius": 1500, "weight": 3},
                {"name": "existing", "kind": "distance", "layer": "facilities", "filter": {"kind": "sports_centre"},
                 "prefer": "far", "weight": 2},
                {"kind": "attribute", "attribute": "land_value", "prefer": "low", "weight": 1}],
    "allocation": {"model": "covering", "k": 3, "radius": 2000, "pool": 1000,
                   "demand": {"layer": "villages", "attribute": "population"},
                   "existing": {"layer": "facilities", "filter": {"kind": "sports_centre"}}},
}


def main(args):
    common.demo_city(args.size)
    user, _ = User.objects.get_or_create(username="bench-planner")
    user.groups.add(Group.objects.get_or_create(name="都市發展局")[0])
    for model in args.models or ("covering", "p_median"):
        # the p-median takes the best 300 (its exact model grows with demand × sites; demand on a 250 m grid)
        body = {**BODY, "allocation": {**BODY["allocation"], "model": model,
                                       "pool": 1000 if model == "covering" else 300}}
        options = siting_job.check(body, user)  # as the API view does
        job = jobs.create("bench siting", {**options, "analysis": "siting", "mode": "create", "title": "bench",
                                           "theme": "analysis-results", "visibility": "internal"}, user)
        job.options["slug"] = f"bench-siting-{job.pk}"
        job.save(update_fields=["options"])
        t0 = time.perf_counter()
        job = jobs.run(job.pk)
        print(f"{model}: {job.status} in {time.perf_counter() - t0:.2f} s", job.errors or "")
        for message in job.messages:
            print("   ", message)
        seconds = job.counts.get("result", {}).get("allocation", {}).get("seconds")
        print("    solver phases:", seconds)


if __name__ == "__main__":
    main(ARGS)
