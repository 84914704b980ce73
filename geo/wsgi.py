import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo.settings")
application = get_wsgi_application()

from layers.serving.tile_fastpath import TileFastPath  # noqa: E402 - after Django is set up

application = TileFastPath(application)  # cached tiles for anonymous callers in front of Django (issue 21)


def _load_and_freeze() -> None:
    """Import the URLconf (and with it every view) now, then move all that was loaded out of the cyclic garbage
    collector's sight (gc.freeze): otherwise each full collection walks Django's hundreds of thousands of
    long-lived objects, and a request that allocates a lot (a batch of 10,000 sensor readings) triggers several —
    measured as a quarter of the time of an ingestion request (docs/benchmarks.md, sensor ingestion)."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the import is the point
    gc.freeze()


_load_and_freeze()
