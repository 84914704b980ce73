"""Settings, all from the environment (see README "Configuration")."""

import json
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true/false)")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


CIVGIS_ENV = os.environ.get("CIVGIS_ENV", "development")
if CIVGIS_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"CIVGIS_ENV={CIVGIS_ENV!r}: use 'development' or 'production'")
PRODUCTION = CIVGIS_ENV == "production"

DEBUG = env_bool("DEBUG", not PRODUCTION)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if PRODUCTION:
    if not SECRET_KEY:
        raise ImproperlyConfigured("production (CIVGIS_ENV=production) refuses to start without SECRET_KEY")
    if DEBUG:
        raise ImproperlyConfigured("production (CIVGIS_ENV=production) refuses to start with DEBUG on")
elif not SECRET_KEY:
    SECRET_KEY = "development-only-not-secret"  # noqa: S105 - never used in production (checked above)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "rest_framework_gis",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "geo",
    "geo.scheduler",
    "layers",
    "jobs",
    "layers.geocoding",
    "analysis",
    "network",
    "iot",
    "web",
    "audit",
    "accounts",
    "stats",
    "catalogue",
    "editing",
    "dashboards",
    "harvest",
    "events",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "geo.bodylimit.BodyLimitMiddleware",  # a body over DATA_UPLOAD_MAX_MEMORY_SIZE: 413 before anything reads it
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.tokens.TokenMiddleware",
    "geo.dbrouter.ReadRoutingMiddleware",  # reads to the replica when one is configured (after the user is known)
    "accounts.recheck.DirectoryRecheckMiddleware",
    "audit.middleware.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "geo.urls"
WSGI_APPLICATION = "geo.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context.sign_in_options",
            ],
        },
    },
]

if not os.environ.get("DATABASE_URL"):
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. `make demo` / `make test` start a private PostGIS and set it (`./civgis manage "
        "COMMAND` runs manage.py against the running demo); or point it at a PostGIS server, e.g. "
        "postgis://user:pass@host:5432/civgis")
DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
if DATABASES["default"]["ENGINE"] != "django.contrib.gis.db.backends.postgis":
    raise ImproperlyConfigured("DATABASE_URL must use the postgis:// scheme (PostGIS is the one database)")
# A PostgreSQL streaming replica (a hot standby of DATABASE_URL's) for reads: geo/dbrouter.py says what goes there.
# In tests the alias mirrors `default` (no test database is made on a read-only standby).
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(DATABASE_REPLICA_URL, conn_max_age=60)
    if DATABASES["replica"]["ENGINE"] != "django.contrib.gis.db.backends.postgis":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL must use the postgis:// scheme")
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    # a replica host gone quiet: fall back to the primary after 3 s, do not hang
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
DATABASE_ROUTERS = ["geo.dbrouter.PrimaryReplicaRouter"]
# Reads fall back to the primary while the replica lags by more than this; its state is measured this often (per
# process); a caller who wrote (or whose job ended) reads the primary for this long: longer than lag + check.
DATABASE_REPLICA_MAX_LAG_SECONDS = float(os.environ.get("DATABASE_REPLICA_MAX_LAG_SECONDS", "10"))
DATABASE_REPLICA_CHECK_SECONDS = float(os.environ.get("DATABASE_REPLICA_CHECK_SECONDS", "5"))
DATABASE_READ_YOUR_WRITES_SECONDS = float(os.environ.get("DATABASE_READ_YOUR_WRITES_SECONDS", "30"))
if DATABASE_READ_YOUR_WRITES_SECONDS < DATABASE_REPLICA_MAX_LAG_SECONDS + DATABASE_REPLICA_CHECK_SECONDS:
    raise ImproperlyConfigured(
        "DATABASE_READ_YOUR_WRITES_SECONDS must be at least DATABASE_REPLICA_MAX_LAG_SECONDS + "
        "DATABASE_REPLICA_CHECK_SECONDS: a user who wrote could otherwise read from a replica that has not got it")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# GeoDjango's system GDAL (3.6) never parses an uploaded SRS: CRS definitions from users are read with pyproj.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
MQTT_URL = os.environ.get("MQTT_URL", "")  # the sensor feeds' broker, mqtt://host:port
IOT_MQTT_CONSUMER = env_bool("IOT_MQTT_CONSUMER", False)  # a worker starts the MQTT consumer task when it is up
# Decision answers: the area layers a chosen site is placed in by name (largest first), and when a feed's latest
# reading stops being current (the pages then warn and show its age)
SITING_PLACE_LAYERS = env_list("SITING_PLACE_LAYERS", "districts,villages")
IOT_STALE_AFTER_HOURS = float(os.environ.get("IOT_STALE_AFTER_HOURS", "2"))
# SensorThings (iot/sta): the public address links in MQTT messages start with (empty: links are relative), the
# broker address clients are told to use, and whether a worker runs the MQTT bridge (v1.1/Datastreams(id)/…)
STA_PUBLIC_URL = os.environ.get("STA_PUBLIC_URL", "").rstrip("/")
STA_MQTT_ENDPOINT = os.environ.get("STA_MQTT_ENDPOINT", "")
STA_MQTT_BRIDGE = env_bool("STA_MQTT_BRIDGE", False)
# Remote SensorThings services read on a schedule (iot.harvest): base URLs (…/v1.0 or …/v1.1), each optionally
# `name=url` and optionally ending in `/Things?$filter=…` (URL-encoded) to take only some Things; each is its own
# periodic task iot.harvest_sta.<name> (named after the URL's service path, e.g. STA_AirQuality_EPAIoT), every
# STA_HARVEST_SECONDS. A request waits STA_HARVEST_TIMEOUT_S; a run follows at most STA_HARVEST_MAX_PAGES pages;
# a first run takes observations STA_HARVEST_LOOKBACK_HOURS back.
STA_HARVEST_SOURCES = os.environ.get("STA_HARVEST_SOURCES", "").split()  # separated by spaces or new lines
STA_HARVEST_SECONDS = int(os.environ.get("STA_HARVEST_SECONDS", 10 * 60))
STA_HARVEST_TIMEOUT_S = float(os.environ.get("STA_HARVEST_TIMEOUT_S", "20"))
STA_HARVEST_MAX_PAGES = int(os.environ.get("STA_HARVEST_MAX_PAGES", "500"))
STA_HARVEST_LOOKBACK_HOURS = float(os.environ.get("STA_HARVEST_LOOKBACK_HOURS", "24"))
# Harvesting other agencies' services into the catalog (harvest/): a request waits HARVEST_TIMEOUT_S, an answer may
# be at most HARVEST_MAX_BYTES, a timeout / refused connection / HTTP 429 or 5xx is tried HARVEST_RETRIES more
# times after HARVEST_BACKOFF_S, 2×, 4× … seconds; the sources themselves are registered at /harvest/.
HARVEST_TIMEOUT_S = float(os.environ.get("HARVEST_TIMEOUT_S", "30"))
HARVEST_MAX_BYTES = int(os.environ.get("HARVEST_MAX_BYTES", 20 * 1024**2))
HARVEST_RETRIES = int(os.environ.get("HARVEST_RETRIES", "2"))
HARVEST_BACKOFF_S = float(os.environ.get("HARVEST_BACKOFF_S", "5"))
WIFI_STALE_AFTER_DAYS = float(os.environ.get("WIFI_STALE_AFTER_DAYS", "2"))
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True  # a crashed worker's job is redelivered, not lost
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Queues per kind of work, so that a long siting job never delays an import: a worker started without -Q consumes
# them all (make demo, the tests); in production each group has its own workers (docker-compose: worker,
# worker-imports, worker-analysis, worker-sensors; `-Q imports` …), scaled on their own. Every task is named here
# (tests/test_queues.py fails on a task without a route, so a new one cannot land in the default queue silently).
CELERY_TASK_DEFAULT_QUEUE = "celery"  # periodic upkeep and the health probe; every deployment has its worker
TASK_QUEUES_BY_KIND = {
    "celery": ["geo.worker_probe", "layers.flush_usage", "audit.flush_reads", "audit.prune", "harvest.due"],
    "imports": ["layers.import_job", "stats.import_stats"],
    "analysis": ["analysis.run_job", "network.build"],
    "publishing": ["layers.ogc.sync_layer", "layers.ogc.rebuild_capabilities", "layers.ogc.prebuild_capabilities",
                   "layers.seed_tiles"],
    "harvesting": ["harvest.run", "harvest.copy"],
    "sensors": ["iot.mqtt_consumer", "iot.sta_mqtt_bridge", "iot.harvest_sta.*"],
}
CELERY_TASK_QUEUES = [Queue(name) for name in TASK_QUEUES_BY_KIND]
CELERY_TASK_ROUTES = {task: {"queue": queue} for queue, tasks in TASK_QUEUES_BY_KIND.items() for task in tasks}


def harvest_source_names(entries: list[str]) -> list[str]:
    """The task names of the configured SensorThings sources (iot.harvest.sources reads them)."""
    from iot.harvest.sources import sources

    try:
        return [source.name for source in sources(entries)]
    except ValueError as exc:
        raise ImproperlyConfigured(f"STA_HARVEST_SOURCES: {exc}") from None


def every(task: str, default_s: int) -> dict:
    """A beat entry running `task` every `default_s` seconds, or every SCHEDULE_<TASK>_SECONDS (dots as
    underscores, e.g. SCHEDULE_AUDIT_PRUNE_SECONDS) when that is set."""
    name = "SCHEDULE_" + task.upper().replace(".", "_") + "_SECONDS"
    value = os.environ.get(name, str(default_s))
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0
    if not seconds > 0:
        raise ImproperlyConfigured(f"{name}={value!r}: give the interval in seconds (a positive number)")
    return {"task": task, "schedule": timedelta(seconds=seconds)}


# Periodic work, run by `celery beat` (make demo starts it; docker-compose has a `beat` service). Each entry is
# named after its task; every run is recorded (geo.scheduler) and shown at /api/v1/schedule/ and /api/health.
CELERY_BEAT_SCHEDULE = {entry["task"]: entry for entry in [
    every("layers.flush_usage", 5 * 60),  # per-layer request counts from Redis into LayerUsage
    every("audit.flush_reads", 10 * 60),  # counted reads into the audit chain (hourly entries)
    every("audit.prune", 24 * 3600),  # audit entries older than AUDIT_RETENTION_DAYS
    every("harvest.due", 60),  # starts the runs of the registered harvest sources that are due (harvest/)
    # one per remote SensorThings service (iot.harvest)
    *(every(f"iot.harvest_sta.{name}", STA_HARVEST_SECONDS) for name in harvest_source_names(STA_HARVEST_SOURCES)),
]}

# Layers are stored in this CRS (TWD97 / TM2 zone 121 unless configured otherwise).
WORKING_SRID = int(os.environ.get("WORKING_SRID", "3826"))

# Imports: the largest upload accepted, how far an archive may unpack, when a silent worker counts as dead,
# and how many earlier versions of each layer keep their data for restoring.
IMPORT_MAX_BYTES = int(os.environ.get("IMPORT_MAX_BYTES", 2 * 1024**3))
IMPORT_MAX_UNPACKED_BYTES = int(os.environ.get("IMPORT_MAX_UNPACKED_BYTES", 8 * 1024**3))
IMPORT_STALE_AFTER_S = int(os.environ.get("IMPORT_STALE_AFTER_S", 120))
LAYER_VERSIONS_KEPT = int(os.environ.get("LAYER_VERSIONS_KEPT", 5))
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2

# Where generated and imported files live (rasters, uploads, exports).
DATA_DIR = Path(os.environ.get("CIVGIS_DATA_DIR", BASE_DIR / ".var" / "data"))
MEDIA_ROOT = DATA_DIR / "media"
# Shared media (geo/media.py): rasters, uploads on their way to an import worker, siting reports. `local` (the
# default): the data folder is the store, nothing is copied. `s3`: an S3-compatible object store (django-storages)
# holds them under their path in the data folder, which stays each machine's local copy for GDAL and MapServer.
MEDIA_STORAGE = os.environ.get("MEDIA_STORAGE", "local")
if MEDIA_STORAGE not in ("local", "s3"):
    raise ImproperlyConfigured(f"MEDIA_STORAGE={MEDIA_STORAGE!r}: local or s3")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "media": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": DATA_DIR}}
    if MEDIA_STORAGE == "local" else {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": os.environ.get("S3_BUCKET", "civgis-media"),
        "endpoint_url": os.environ.get("S3_ENDPOINT_URL") or None,  # None: AWS itself
        "region_name": os.environ.get("S3_REGION") or None,
        "access_key": os.environ.get("S3_ACCESS_KEY_ID") or None,  # None: boto3's own chain (IAM role, ~/.aws)
        "secret_key": os.environ.get("S3_SECRET_ACCESS_KEY") or None,
        "location": os.environ.get("S3_PREFIX", ""),  # a folder in a shared bucket
        "file_overwrite": True, "default_acl": None, "querystring_auth": True,
        "addressing_style": os.environ.get("S3_ADDRESSING_STYLE") or None,  # `path` for most self-hosted stores
    }},
}
# the server-side tile cache (layers.serving.tilecache): vector and raster tiles kept on disk until their layer
# changes; low zooms seeded after publishing, up to TILE_CACHE_SEED_MAX_ZOOM (-1: no seeding)
TILE_CACHE = env_bool("TILE_CACHE", True)
TILE_CACHE_DIR = Path(os.environ.get("TILE_CACHE_DIR", DATA_DIR / "tile-cache"))
TILE_CACHE_FAST_PATH = env_bool("TILE_CACHE_FAST_PATH", True)  # cached tiles answered in front of Django
# the fast path's per-process visibility answers are dropped on every catalog change (the capabilities generation,
# told through TILE_CACHE_DIR/.changes) and in any case after this many seconds (a bulk update that sends no signal,
# a change on another machine not sharing the tile cache folder); a signed-in session is known to it for at most
# TILE_SESSION_SECONDS after Django last authenticated it (ended at once by sign-out or a user change); its read
# counts go to Redis at most every TILE_FAST_PATH_COUNT_SECONDS
TILE_FAST_PATH_RECHECK_SECONDS = float(os.environ.get("TILE_FAST_PATH_RECHECK_SECONDS", "10"))
TILE_FAST_PATH_COUNT_SECONDS = float(os.environ.get("TILE_FAST_PATH_COUNT_SECONDS", "1"))  # reads sent to Redis
TILE_SESSION_SECONDS = int(os.environ.get("TILE_SESSION_SECONDS", "300"))
TILE_CACHE_SEED_MAX_ZOOM = int(os.environ.get("TILE_CACHE_SEED_MAX_ZOOM", 10))
# behind nginx (deploy/nginx): the fast path decides who may see a cached tile and answers with X-Accel-Redirect to
# this internal location of nginx, which maps it onto TILE_CACHE_DIR and sends the file itself; empty: the app sends it
TILE_ACCEL_REDIRECT = os.environ.get("TILE_ACCEL_REDIRECT", "")
if TILE_ACCEL_REDIRECT and not (TILE_ACCEL_REDIRECT.startswith("/") and TILE_ACCEL_REDIRECT.endswith("/")):
    raise ImproperlyConfigured(f"TILE_ACCEL_REDIRECT={TILE_ACCEL_REDIRECT!r}: a location such as /_tile-cache/ "
                               "(starting and ending with /)")
# live edits (editing.live): at most this many open streams of anonymous readers of public layers at once; more
# are told to come back in 30 s (signed-in users' streams are not counted)
EDIT_STREAMS_ANONYMOUS = int(os.environ.get("EDIT_STREAMS_ANONYMOUS", 100))
# a hotline system's pushes (events.views.PushView): at most this many requests a minute per push token (more are
# answered 429 with Retry-After), each at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes (413, geo.bodylimit)
EVENTS_PUSH_PER_MINUTE = int(os.environ.get("EVENTS_PUSH_PER_MINUTE", 60))
MEDIA_URL = "/media/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_URL = "/static/"

OGC_ENGINE = os.environ.get("OGC_ENGINE", "geoserver" if os.environ.get("GEOSERVER_URL") else "mapserver")
if OGC_ENGINE not in {"mapserver", "geoserver"}:
    raise ImproperlyConfigured(f"OGC_ENGINE={OGC_ENGINE!r}: use 'mapserver' or 'geoserver'")
GEOSERVER_URL = os.environ.get("GEOSERVER_URL", "").rstrip("/")
GEOSERVER_USER = os.environ.get("GEOSERVER_USER", "admin")
GEOSERVER_PASSWORD = os.environ.get("GEOSERVER_PASSWORD", "")
if OGC_ENGINE == "geoserver" and not GEOSERVER_URL:
    raise ImproperlyConfigured("OGC_ENGINE=geoserver needs GEOSERVER_URL")
GEOSERVER_WORKSPACE = os.environ.get("GEOSERVER_WORKSPACE", "civgis")
# The database and MEDIA_ROOT as GeoServer reaches them (its host names, its mount of the media volume);
# by default the same as ours, as in docker-compose.yml.
GEOSERVER_DATABASE_URL = os.environ.get("GEOSERVER_DATABASE_URL", os.environ["DATABASE_URL"])
GEOSERVER_DATA_PREFIX = os.environ.get("GEOSERVER_DATA_PREFIX", str(MEDIA_ROOT))
# TGOS 門牌位置比對服務 (QueryAddr v4.0): asked when an address is not in the catalog's address-point layers,
# only when both keys are set (they are issued by TGOS per application)
TGOS_APP_ID = os.environ.get("TGOS_APP_ID", "")
TGOS_API_KEY = os.environ.get("TGOS_API_KEY", "")
TGOS_URL = os.environ.get("TGOS_URL", "https://addr.tgos.tw/addrws/v40/QueryAddr.asmx/QueryAddr")
TGOS_TIMEOUT_S = float(os.environ.get("TGOS_TIMEOUT_S", "5"))
MAPSERV_BIN = os.environ.get("MAPSERV_BIN", "/usr/bin/mapserv")
# OGC services at /ows: limits that keep one request from tying up a worker, and the service's identity.
OGC_MAX_IMAGE_SIZE = int(os.environ.get("OGC_MAX_IMAGE_SIZE", 4096))
# how long a built GetCapabilities document is kept in Redis at most (a catalog change replaces it sooner)
OGC_CAPABILITIES_CACHE_SECONDS = int(os.environ.get("OGC_CAPABILITIES_CACHE_SECONDS", 86400))
# after a catalog change, how many of the most recently asked capabilities variants (theme, language, parameters,
# kind of requester) a Celery task rebuilds in the background (0: none; the others are rebuilt when next asked,
# the previous document served meanwhile)
# every layer's WMS BoundingBox in each offered CRS (true: added by the front from the one in the layer's own CRS,
# layers.ogc.capabilities_boxes), or in its own CRS only (false)
OGC_WMS_LAYER_BBOX_ALL_CRS = env_bool("OGC_WMS_LAYER_BBOX_ALL_CRS", True)
OGC_CAPABILITIES_PREBUILD = int(os.environ.get("OGC_CAPABILITIES_PREBUILD", 8))
# after a catalog change, a capabilities document listing at least this many layers (slow to build: ~2 s at 600,
# minutes at 5,000) is served as it was while a Celery task rebuilds it, unless it lists a layer the caller may no
# longer see; a smaller one is built on the request (0: always the former)
OGC_CAPABILITIES_STALE_FROM_LAYERS = int(os.environ.get("OGC_CAPABILITIES_STALE_FROM_LAYERS", 200))
OGC_MAX_FEATURES = int(os.environ.get("OGC_MAX_FEATURES", 50_000))
OGC_SERVICE_TITLE = os.environ.get("OGC_SERVICE_TITLE", "civgis 城市空間資料服務")
OGC_CONTACT_ORGANIZATION = os.environ.get("OGC_CONTACT_ORGANIZATION", "civgis")
OGC_SERVICE_ABSTRACT = os.environ.get("OGC_SERVICE_ABSTRACT",
                                      "本市各機關空間圖層之 WMS / WFS 服務（TWD97 / EPSG:3826）")
# what English capabilities (LANGUAGE=eng or Accept-Language: en) say instead
OGC_SERVICE_TITLE_EN = os.environ.get("OGC_SERVICE_TITLE_EN", "civgis city spatial data services")
OGC_SERVICE_ABSTRACT_EN = os.environ.get("OGC_SERVICE_ABSTRACT_EN", "WMS / WFS services of the city agencies' "
                                         "spatial layers (TWD97 / EPSG:3826)")

# The audit log: how long entries are kept, and how many reverse proxies in front of the app append to
# X-Forwarded-For (0: the client address is REMOTE_ADDR; the header is whatever the client sent).
AUDIT_RETENTION_DAYS = int(os.environ.get("AUDIT_RETENTION_DAYS", 365))
if AUDIT_RETENTION_DAYS < 1:
    raise ImproperlyConfigured(f"AUDIT_RETENTION_DAYS={AUDIT_RETENTION_DAYS}: keep at least one day")
AUDIT_TRUSTED_PROXIES = int(os.environ.get("AUDIT_TRUSTED_PROXIES", 0))
# failed sign-ins and refused tokens of one client address: this many a minute are entries of their own, the rest of
# that minute one entry with a count (audit.refusals; 0: every one its own entry)
AUDIT_REFUSALS_PER_MINUTE = int(os.environ.get("AUDIT_REFUSALS_PER_MINUTE", "20"))

# Sign-in (accounts/): local accounts always; the city's directory (LDAP / Active Directory) when LDAP_SERVER_URI
# is set; its OpenID Connect provider (authorization code + PKCE) when OIDC_ISSUER is set. Both map the directory's
# or provider's agency and groups to civgis agencies and groups by the same rules (accounts/mapping.py):
# AUTH_AGENCY_MAP {"directory value": "civgis agency"} (an unmapped value is the agency's name as it is) and
# AUTH_GROUP_MAP {"directory group": "civgis group" | [groups …]}, where "@staff" and "@superuser" grant those flags.


def env_json(name: str, default: str):
    try:
        return json.loads(os.environ.get(name, default) or default)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"{name} is not JSON: {exc}") from None


AUTH_AGENCY_MAP = env_json("AUTH_AGENCY_MAP", "{}")
AUTH_GROUP_MAP = env_json("AUTH_GROUP_MAP", "{}")
for _name, _map in (("AUTH_AGENCY_MAP", AUTH_AGENCY_MAP), ("AUTH_GROUP_MAP", AUTH_GROUP_MAP)):
    if not isinstance(_map, dict):
        raise ImproperlyConfigured(f'{_name} must be a JSON object, e.g. {{"gis-editors": "圖資編輯"}}')
# local accounts' passwords (set through the administrators' API): at least AUTH_PASSWORD_MIN_LENGTH characters,
# not all digits, not a common one, not like the user's name
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": int(os.environ.get("AUTH_PASSWORD_MIN_LENGTH", "10"))}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# lock-out: this many failed sign-ins of one name within AUTH_LOCKOUT_MINUTES lock it for that long (0: never)
AUTH_LOCKOUT_FAILURES = int(os.environ.get("AUTH_LOCKOUT_FAILURES", "10"))
AUTH_LOCKOUT_MINUTES = float(os.environ.get("AUTH_LOCKOUT_MINUTES", "15"))
# how long a sign-in lasts (Django's session cookie), in hours
SESSION_COOKIE_AGE = int(float(os.environ.get("SESSION_HOURS", "12")) * 3600)
AUTHENTICATION_BACKENDS = ["accounts.lockout.LockingModelBackend"]  # local accounts, with the lock-out
LDAP_SERVER_URI = os.environ.get("LDAP_SERVER_URI", "")
if LDAP_SERVER_URI:
    from accounts.directory_config import ldap_settings

    globals().update(ldap_settings(os.environ))
    AUTHENTICATION_BACKENDS.append("accounts.directory.DirectoryBackend")
# passkeys (accounts.second_factor): the relying party's id (default: the host the browser asked for, without its
# port) and further origins the browser may be on, comma-separated (default: the request's scheme and host)
WEBAUTHN_RP_ID = os.environ.get("WEBAUTHN_RP_ID", "")
WEBAUTHN_ORIGINS = [o.strip().rstrip("/") for o in os.environ.get("WEBAUTHN_ORIGINS", "").split(",") if o.strip()]
# a signed-in directory user is looked up again at most this often; removed or disabled there, the session ends
AUTH_DIRECTORY_RECHECK_SECONDS = float(os.environ.get("AUTH_DIRECTORY_RECHECK_SECONDS", "300"))
# personal API tokens (accounts.tokens): days a new token lasts unless its maker says otherwise, and at most
API_TOKEN_DEFAULT_DAYS = int(os.environ.get("API_TOKEN_DEFAULT_DAYS", "90"))
API_TOKEN_MAX_DAYS = int(os.environ.get("API_TOKEN_MAX_DAYS", "365"))
OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "").rstrip("/")
OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "")
OIDC_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "")
OIDC_SCOPES = os.environ.get("OIDC_SCOPES", "openid profile email")
OIDC_USERNAME_CLAIM = os.environ.get("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM", "groups")
OIDC_AGENCY_CLAIM = os.environ.get("OIDC_AGENCY_CLAIM", "agency")
OIDC_TIMEOUT_S = float(os.environ.get("OIDC_TIMEOUT_S", "5"))
if OIDC_ISSUER:
    if not OIDC_CLIENT_ID:
        raise ImproperlyConfigured("OIDC_ISSUER is set but OIDC_CLIENT_ID is not (the client id the provider gave)")
    AUTHENTICATION_BACKENDS.append("accounts.oidc.OidcBackend")

LANGUAGE_CODE = "zh-hant"
LANGUAGES = [("zh-hant", "繁體中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Taipei"
USE_I18N = True
USE_TZ = True

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.tokens.PersonalTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    # `?format=` names a download format (geojson, gpkg, shp, csv), not a DRF renderer
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "civgis API",
    "DESCRIPTION": "城市空間決策支援平台 — layers, analysis and decision support for city governments.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI served from our own static files: the platform must work without internet. (ReDoc is left
    # out: its page loads Google Fonts.)
    "ENUM_NAME_OVERRIDES": {
        "LayerKindEnum": "layers.models.Layer.Kind",
        "StyleKindEnum": "layers.models.Style.Kind",
        "LayerVisibilityEnum": "layers.models.Layer.Visibility",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# The map viewer at `/`. Basemaps: Taiwan's national maps from NLSC (國土測繪中心, WMTS in GoogleMapsCompatible, no
# key; its tile matrices are 7–19) unless VIEWER_NLSC_BASEMAPS=false, then the entries of VIEWER_BASEMAPS, a JSON
# list of XYZ or WMTS entries a city adds, e.g.
# [{"id": "city-ortho", "name_zh": "本市正射影像", "name_en": "City orthophoto", "type": "xyz",
#   "url": "https://gis.example.gov.tw/tiles/{z}/{x}/{y}.png", "attribution_zh": "…", "attribution_en": "…"},
#  {"id": "agency", "type": "wmts", "url": "https://…/wmts", "layer": "L", "matrix_set": "GoogleMapsCompatible",
#   "format": "image/png"}]  (a WMTS "url" with {z}/{y}/{x} is a RESTful template, else the KVP endpoint;
# "overlay": true makes an entry a transparent layer drawn over any basemap). The platform's own basemap (drawn
# by MapServer from VIEWER_BASEMAP_LAYERS, with names; works offline) and 無底圖 are always offered.
# NLSC_WMTS_URL points the NLSC entries at a mirror (an offline site, the tests' stand-in server).
NLSC_WMTS_URL = os.environ.get("NLSC_WMTS_URL", "https://wmts.nlsc.gov.tw/wmts").rstrip("/")
# NLSC's layers (ids from its capabilities): the viewer writes their tile template on NLSC_WMTS_URL.
NLSC_BASEMAPS = [
    {"id": "nlsc-emap", "name_zh": "臺灣通用電子地圖", "name_en": "Taiwan e-Map", "layer": "EMAP"},
    {"id": "nlsc-photo", "name_zh": "正射影像", "name_en": "Orthophoto", "layer": "PHOTO2"},
    # 臺灣通用電子地圖透明: the e-map's roads and names on a transparent ground, drawn over any basemap
    {"id": "nlsc-labels", "name_zh": "道路與地名標註", "name_en": "Road and place names", "layer": "EMAP2",
     "overlay": True},
] if env_bool("VIEWER_NLSC_BASEMAPS", True) else []
try:
    VIEWER_BASEMAPS = json.loads(os.environ.get("VIEWER_BASEMAPS", "[]"))
except json.JSONDecodeError as exc:
    raise ImproperlyConfigured(f"VIEWER_BASEMAPS is not JSON: {exc}") from None
# layers whose features the search box lists as places (districts, villages, roads), before other features
SEARCH_PLACE_LAYERS = env_list("SEARCH_PLACE_LAYERS", "districts,villages,roads")
# the basemap the viewer opens on (an id above, "platform" or "none"); offline sites choose "platform"
VIEWER_DEFAULT_BASEMAP = os.environ.get("VIEWER_DEFAULT_BASEMAP", "nlsc-emap")
VIEWER_BASEMAP_LAYERS = env_list("VIEWER_BASEMAP_LAYERS", "districts,villages,rivers,roads")
VIEWER_DEFAULT_LAYERS = env_list("VIEWER_DEFAULT_LAYERS", "facilities,buildings,villages")  # top first
VIEWER_TERRAIN_LAYER = os.environ.get("VIEWER_TERRAIN_LAYER", "demo-dem")

if PRODUCTION:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
