"""`./civgis manage …`: manage.py with the running stack's environment, and a clear word when none runs."""

import os
import subprocess
from pathlib import Path

import pytest
from conftest import PROJECT_DIR

from geo import localstack

WRAPPER = PROJECT_DIR / "civgis"
SERVICES = ("DATABASE_URL", "REDIS_URL", "MQTT_URL", "CIVGIS_DATA_DIR")


def without_services() -> dict:
    return {k: v for k, v in os.environ.items() if k not in SERVICES}


def this_runs_stack() -> str:
    """The private stack this test run is served by (its runner is alive while the tests run)."""
    if "CIVGIS_STACK_DIR" not in os.environ:
        pytest.skip("not run under `python -m geo.localstack run` (the services come from elsewhere)")
    return Path(os.environ["CIVGIS_STACK_DIR"]).name


def test_the_running_stacks_environment_is_found():
    env = localstack.stack_env(this_runs_stack())
    assert env["DATABASE_URL"] == os.environ["DATABASE_URL"]
    assert env["REDIS_URL"] == os.environ["REDIS_URL"]
    assert env["MQTT_URL"] == os.environ["MQTT_URL"]


def test_manage_runs_against_the_running_stack():
    """From another folder, with no service in the environment: the command reaches this stack's PostGIS."""
    ask = ("from django.db import connection; connection.ensure_connection(); "
           "print(connection.settings_dict['HOST'], connection.settings_dict['PORT'])")
    out = subprocess.run([str(WRAPPER), "manage", "--stack", this_runs_stack(), "shell", "-c", ask],
                         env=without_services(), cwd="/", capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    from django.conf import settings

    ours = settings.DATABASES["default"]
    assert out.stdout.splitlines()[-1].split() == [ours["HOST"], str(ours["PORT"])]


def test_no_running_stack_is_said_plainly(capsys):
    name = f"not-started-{os.getpid()}"
    assert localstack.main(["manage", "--stack", name, "import_layers", "/tmp"]) == 1
    err = capsys.readouterr().err
    assert f"the {name} stack is not running" in err and "Traceback" not in err
    assert localstack.main(["env", name]) == 1
    assert not (localstack.VAR_DIR / name).exists()  # asking made nothing
    out = subprocess.run([str(WRAPPER), "manage", "--stack", name, "check"], env=without_services(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "is not running" in out.stderr and "Traceback" not in out.stderr


def test_the_demo_not_running_says_make_demo(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(localstack, "VAR_DIR", tmp_path)
    assert localstack.main(["manage", "import_layers", "/tmp"]) == 1
    assert "start it with `make demo`" in capsys.readouterr().err


def test_manage_py_without_a_database_says_how():
    out = subprocess.run([os.sys.executable, str(PROJECT_DIR / "manage.py"), "import_layers", "DIR"],
                         env=without_services(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "./civgis manage import_layers DIR" in out.stderr
