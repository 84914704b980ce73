# The civgis web/worker image (docker-compose.yml). System GDAL/GEOS/PROJ for GeoDjango, MapServer for the
# embedded OGC engine; Python packages pinned in pyproject.toml.
# The map viewer's bundle: npm packages from the lock file, built by esbuild (Debian 12's Node.js 18 is enough).
FROM debian:12-slim AS viewer
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build/web/frontend
COPY web/frontend/package.json web/frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/frontend ./
RUN node build.mjs

FROM debian:12-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3 python3-venv gdal-bin libgdal-dev libgeos-dev libproj-dev cgi-mapserver mapserver-bin gettext \
        ca-certificates curl libldap2-dev libsasl2-dev gcc python3-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml ./
# every app in INSTALLED_APPS (tests/test_compose.py checks the list)
COPY geo geo
COPY layers layers
COPY analysis analysis
COPY iot iot
COPY web web
COPY audit audit
COPY accounts accounts
COPY jobs jobs
COPY network network
COPY stats stats
COPY catalogue catalogue
COPY editing editing
COPY dashboards dashboards
COPY harvest harvest
COPY events events
COPY --from=viewer /build/web/static/web/dist web/static/web/dist
COPY locale locale
COPY manage.py ./
RUN python3 -m venv /venv && /venv/bin/pip install --no-cache-dir . \
    && msgfmt -o locale/en/LC_MESSAGES/django.mo locale/en/LC_MESSAGES/django.po
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1
RUN useradd --system --home /app civgis && mkdir -p /data && chown civgis /data
USER civgis
EXPOSE 8000
