"""The network tools that run as analysis jobs (analysis.jobs dispatches `network_*` analyses here)."""

from . import closest, od_matrix, routes, service_area

TOOLS = {"network_service_area": service_area, "network_closest_facility": closest,
         "network_od_matrix": od_matrix, "network_route": routes}


def build(staging: str, options: dict, user, progress):
    return TOOLS[options["analysis"]].build(staging, options, user, progress)
