import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo.settings")
application = get_wsgi_application()

from layers.serving.tile_fastpath import TileFastPath  # noqa: E402 - after Django is set up

application = TileFastPath(application)  # cached tiles for anonymous callers in front of Django (issue 21)
