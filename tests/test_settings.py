"""Settings come from the environment; production refuses unsafe ones. Each case runs in a fresh interpreter."""

import os
import subprocess
import sys

from conftest import PROJECT_DIR

SETUP = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG, settings.WORKING_SRID)"


def run_settings(**env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "CIVGIS_ENV", "WORKING_SRID"}}
    base["DJANGO_SETTINGS_MODULE"] = "geo.settings"
    return subprocess.run([sys.executable, "-c", SETUP], cwd=PROJECT_DIR, env={**base, **env},
                          capture_output=True, text=True)


def test_development_defaults():
    res = run_settings()
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["True", "3826"]


def test_production_refuses_to_start_without_secret():
    res = run_settings(CIVGIS_ENV="production")
    assert res.returncode != 0
    assert "without SECRET_KEY" in res.stderr


def test_production_refuses_debug():
    res = run_settings(CIVGIS_ENV="production", SECRET_KEY="x" * 50, DEBUG="true")
    assert res.returncode != 0
    assert "with DEBUG on" in res.stderr


def test_production_with_secret_starts_with_debug_off():
    res = run_settings(CIVGIS_ENV="production", SECRET_KEY="x" * 50, ALLOWED_HOSTS="gis.example.gov.tw")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[0] == "False"


def test_working_srid_is_configurable():
    res = run_settings(WORKING_SRID="3857")
    assert res.stdout.split()[1] == "3857"


def test_database_must_be_postgis():
    res = run_settings(DATABASE_URL="sqlite:///tmp/x.db")
    assert res.returncode != 0
    assert "postgis://" in res.stderr


def test_bad_boolean_is_named():
    res = run_settings(DEBUG="maybe")
    assert res.returncode != 0
    assert "DEBUG='maybe'" in res.stderr


def test_a_replica_must_be_postgis_and_the_read_your_writes_window_longer_than_its_lag():
    res = run_settings(DATABASE_REPLICA_URL="postgres://replica/civgis")
    assert res.returncode != 0 and "DATABASE_REPLICA_URL must use the postgis://" in res.stderr
    res = run_settings(DATABASE_REPLICA_URL="postgis://replica/civgis", DATABASE_READ_YOUR_WRITES_SECONDS="5")
    assert res.returncode != 0 and "DATABASE_READ_YOUR_WRITES_SECONDS must be at least" in res.stderr
    res = run_settings(DATABASE_REPLICA_URL="postgis://replica/civgis")
    assert res.returncode == 0, res.stderr  # nothing connects before the first read


def test_the_tile_cache_location_for_nginx_is_a_location():
    res = run_settings(TILE_ACCEL_REDIRECT="_tile-cache")
    assert res.returncode != 0 and "TILE_ACCEL_REDIRECT='_tile-cache': a location such as /_tile-cache/" in res.stderr
    assert run_settings(TILE_ACCEL_REDIRECT="/_tile-cache/").returncode == 0
