"""Reading remote SensorThings services (Civil IoT Taiwan's 民生公共物聯網 and any other) into the registry on a
schedule: `sources` (what is configured), `client` (HTTP with its limits and clear failures), `civil_iot` (the
documents' quirks), `harvester` (Things, Locations, Datastreams, new Observations into read-only devices)."""
