"""docker-compose.yml cannot run here (no Docker engine): check its structure and wiring instead."""

import re
import tomllib

import pytest
import yaml
from conftest import PROJECT_DIR

COMPOSE = PROJECT_DIR / "docker-compose.yml"
WORKERS = ("worker", "worker-imports", "worker-analysis", "worker-sensors")


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE.read_text())


def test_services_and_healthchecks(compose):
    services = compose["services"]
    assert set(services) == {"postgis", "postgis-standby", "redis", "mosquitto", "geoserver", "nginx", "web", "worker",
                             "worker-imports", "worker-analysis", "worker-sensors", "beat"}
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        assert service.get("restart") == "unless-stopped", name


def test_app_waits_for_healthy_dependencies(compose):
    services = compose["services"]
    for name in ("web", *WORKERS, "beat"):
        deps = services[name]["depends_on"]
        assert deps["postgis"]["condition"] == "service_healthy"
        assert deps["redis"]["condition"] == "service_healthy"
    assert services["web"]["depends_on"]["geoserver"]["condition"] == "service_healthy"
    assert services["worker-sensors"]["depends_on"]["mosquitto"]["condition"] == "service_healthy"  # the feeds


def test_app_points_at_the_compose_services(compose):
    for name in ("web", *WORKERS, "beat"):
        env = compose["services"][name]["environment"]
        assert env["CIVGIS_ENV"] == "production"
        url = r"postgis://civgis:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgis:5432/civgis"
        assert re.fullmatch(url, env["DATABASE_URL"])
        assert re.fullmatch(url.replace("@postgis:", "@postgis-standby:"), env["DATABASE_REPLICA_URL"])
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["MQTT_URL"] == "mqtt://mosquitto:1883"
        assert env["GEOSERVER_URL"] == "http://geoserver:8080/geoserver"
        assert env["OGC_ENGINE"] == "geoserver"
    assert "celery" in compose["services"]["worker"]["command"]
    assert "gunicorn geo.wsgi" in " ".join(compose["services"]["web"]["command"])


def test_every_queue_has_a_worker_service_that_can_be_scaled(compose, settings):
    consumed = {}
    for name in WORKERS:
        service = compose["services"][name]
        command = service["command"]
        assert command[:4] == ["celery", "-A", "geo", "worker"]
        for queue in command[command.index("-Q") + 1].split(","):
            assert queue not in consumed, f"{queue} in {consumed.get(queue)} and {name}"
            consumed[queue] = name
        assert "container_name" not in service and "ports" not in service  # `--scale` starts more of it
        assert "celery@$$HOSTNAME" in " ".join(service["healthcheck"]["test"])
    assert set(consumed) == set(settings.TASK_QUEUES_BY_KIND)
    assert consumed["celery"] == "worker"  # the default queue: periodic upkeep and the health probe
    assert compose["services"]["worker-sensors"]["environment"]["IOT_MQTT_CONSUMER"] == "true"


def test_beat_runs_once_with_its_schedule_on_the_data_volume(compose):
    beat = compose["services"]["beat"]
    command = beat["command"]
    assert command[:4] == ["celery", "-A", "geo", "beat"]
    schedule = command[command.index("--schedule") + 1]
    assert schedule.startswith(beat["environment"]["CIVGIS_DATA_DIR"] + "/")
    assert "civgis-data:/data" in beat["volumes"]
    assert "deploy" not in beat  # no replicas: two beats would send every task twice
    # its healthcheck pings beat's own node, which answers only with remote control on
    assert "--enable-remote-control" in command
    assert "celerybeat@" in " ".join(beat["healthcheck"]["test"])


def test_named_volumes_persist_state(compose):
    declared = set(compose["volumes"])
    assert {"postgis-data", "redis-data", "geoserver-data"} <= declared
    for service in compose["services"].values():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            assert source in declared, f"{mount} is not a named volume"


def test_secrets_come_from_the_environment_and_are_required():
    text = COMPOSE.read_text()
    for secret in ("SECRET_KEY", "POSTGRES_PASSWORD", "POSTGRES_REPLICATION_PASSWORD", "GEOSERVER_PASSWORD"):
        assert re.search(r"\$\{" + secret + r":\?", text), f"{secret} must be required (${{{secret}:?…}})"
    # no literal password anywhere
    assert not re.search(r"(PASSWORD|SECRET_KEY):\s*['\"]?(?!\$\{)[A-Za-z0-9]", text)


def test_dockerfile_builds_what_compose_runs(settings):
    dockerfile = (PROJECT_DIR / "Dockerfile").read_text()
    apps = {app.split(".")[0] for app in settings.INSTALLED_APPS if (PROJECT_DIR / app.split(".")[0]).is_dir()}
    assert {"geo", "layers", "editing", "events"} <= apps
    packages = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    for folder in apps:  # the image runs from /app: an app not copied there is an ImportError at start
        assert f"COPY {folder} {folder}" in dockerfile, folder
        assert f"{folder}*" in packages["include"], folder
    assert "cgi-mapserver" in dockerfile and "libgdal-dev" in dockerfile
    # the map viewer's bundle is built from the lock file, not taken from the build context
    assert "npm ci" in dockerfile and "COPY --from=viewer" in dockerfile
    assert "web/static/web/dist" in (PROJECT_DIR / ".dockerignore").read_text().split()


def test_nginx_is_the_one_way_in_and_sends_cached_tiles_from_the_shared_volume(compose):
    """nginx (deploy/nginx) publishes the one port; the app's tile answers name files in nginx's internal location
    of the same folder (tests/test_tile_nginx.py runs the template for real)."""
    services = compose["services"]
    published = {name for name, service in services.items() if "ports" in service}
    assert published == {"nginx"}  # gunicorn would answer a tile with X-Accel-Redirect and no bytes
    nginx, app = services["nginx"], services["web"]["environment"]
    for name in ("TILE_CACHE_DIR", "TILE_ACCEL_REDIRECT"):
        assert nginx["environment"][name] == app[name], name
    assert nginx["environment"]["CIVGIS_UPSTREAM"] == "web:8000" and "0.0.0.0:8000" in " ".join(
        services["web"]["command"])
    assert "civgis-data:/data:ro" in nginx["volumes"] and app["TILE_CACHE_DIR"].startswith(app["CIVGIS_DATA_DIR"])
    assert nginx["environment"]["STATIC_ROOT"] == app["CIVGIS_DATA_DIR"] + "/static"  # where collectstatic puts it
    assert app["AUDIT_TRUSTED_PROXIES"] == "1"  # the address nginx forwards
    (site,) = nginx["configs"]
    assert site["target"] == "/etc/nginx/templates/default.conf.template"  # rendered over the image's welcome page
    template = (PROJECT_DIR / compose["configs"][site["source"]]["file"]).read_text()
    tiles = re.search(r"location \$\{TILE_ACCEL_REDIRECT\} \{(.*?)\n    \}", template, re.S).group(1)
    assert "internal;" in tiles and "alias ${TILE_CACHE_DIR}/;" in tiles
    assert nginx["depends_on"]["web"]["condition"] == "service_healthy"


def test_the_standby_streams_from_the_primary_with_its_own_role_and_slot(compose):
    services = compose["services"]
    primary, standby = services["postgis"], services["postgis-standby"]
    assert standby["image"] == primary["image"]  # the same PostgreSQL major version and extensions
    (init,) = primary["configs"]
    assert init["target"].startswith("/docker-entrypoint-initdb.d/")
    script = (PROJECT_DIR / compose["configs"][init["source"]]["file"]).read_text()
    role = re.search(r"CREATE ROLE (\w+) WITH REPLICATION LOGIN", script).group(1)
    slot = re.search(r"pg_create_physical_replication_slot\('(\w+)'\)", script).group(1)
    assert f"host replication {role} all scram-sha-256" in script
    command = " ".join(standby["command"])
    assert "pg_basebackup --host postgis" in command and f"--username {role}" in command
    assert f"--slot {slot}" in command and "--write-recovery-conf" in command and "hot_standby=on" in command
    assert standby["environment"]["PGPASSWORD"] == primary["environment"]["POSTGRES_REPLICATION_PASSWORD"]
    assert "max_slot_wal_keep_size" in " ".join(primary["command"])  # a stopped standby cannot fill the disk
    assert standby["depends_on"]["postgis"]["condition"] == "service_healthy"
    assert standby["volumes"] == ["postgis-standby-data:/var/lib/postgresql/data"]
    assert "pg_is_in_recovery()" in " ".join(standby["healthcheck"]["test"])
    # the app starts without it: reads go to the primary while it is down (geo/dbrouter.py)
    assert services["web"]["depends_on"]["postgis-standby"]["condition"] == "service_started"
