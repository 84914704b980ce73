"""What every benchmark needs before its first figure, in one place: Django on a migrated database, the demo city
of the size it measures, the tools it drives (wrk: `make bench-tools`), a gunicorn of the app, and the machine
and date printed beside the figures. A bench runs from a clean checkout as its docstring says, e.g.

    .venv/bin/python -m geo.localstack run bench -- .venv/bin/python bench/serving.py --size 1

Its private stack (.var/bench) keeps the database, the demo city and the GeoPackages between runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo.localstack import PidFile  # noqa: E402  (imports nothing of Django)

SEED = 2026
SECRET_KEY = "bench-" + "x" * 40  # the bench's gunicorn's (a bench signing a session for it uses the same)


def start(doc: str, parser: argparse.ArgumentParser | None = None, django: bool = True) -> argparse.Namespace:
    """Parse the bench's arguments, print the machine and date, and (with `django`) set Django up on a migrated
    database. Call first, before importing anything of the project that needs settings."""
    parser = parser or argparse.ArgumentParser()
    parser.description, parser.formatter_class = doc, argparse.RawDescriptionHelpFormatter
    args = parser.parse_args()
    if django:
        if not os.environ.get("DATABASE_URL"):
            sys.exit(f"{Path(sys.argv[0]).name}: no database. Run it on a private stack: .venv/bin/python -m "
                     f"geo.localstack run bench -- .venv/bin/python bench/{Path(sys.argv[0]).name} …")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo.settings")
        import django as django_module
        from django.core.management import call_command

        django_module.setup()
        call_command("migrate", verbosity=0)  # a fresh stack has no tables yet
    print(f"{Path(sys.argv[0]).name} {' '.join(sys.argv[1:])}".rstrip())
    print(f"machine: {machine()}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", flush=True)
    return args


def machine() -> str:
    """Cores (those this process may use, of all), memory and CPU model: what a reader needs to compare figures."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        memory = f"{kib / 2**20:.1f} GiB"
    usable, total = len(os.sched_getaffinity(0)), os.cpu_count()
    cores = f"{usable} cores" + (f" (of {total})" if total != usable else "")
    return f"{cores}, {memory} memory, {model}, {load()}"


def load() -> str:
    """The machine's load average now (1, 5, 15 minutes), printed beside each figure: the machine is shared."""
    return "load " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


def stack_dir() -> Path:
    """The private stack's folder (set by geo.localstack run), else a temporary one."""
    path = Path(os.environ.get("CIVGIS_STACK_DIR") or Path(tempfile.gettempdir()) / "civgis-bench")
    path.mkdir(parents=True, exist_ok=True)
    return path


def demo_city(size: float, geopackage: tuple[str, ...] = ()) -> Path | None:
    """The demo city of `size` in PostGIS and the catalog (generated when another size or none is loaded) and,
    given layer names, those layers in a GeoPackage beside the stack (for baselines that read files)."""
    from layers.democity.city import generate
    from layers.democity.store import is_loaded, register, store, write_geopackage

    marker = stack_dir() / "demo-city.json"  # which size this stack's database holds
    wanted = {"seed": SEED, "size": size}
    loaded = is_loaded() and marker.exists() and json.loads(marker.read_text()) == wanted
    gpkg = stack_dir() / f"demo-city-{size:g}-{'-'.join(geopackage)}.gpkg" if geopackage else None
    if loaded and (gpkg is None or gpkg.exists()):
        return gpkg
    print(f"generating the size-{size:g} demo city …", flush=True)
    city = generate(SEED, size)
    if not loaded:
        marker.unlink(missing_ok=True)
        store(city, progress=lambda _message: None)
        register(city)
        marker.write_text(json.dumps(wanted))
    if gpkg and not gpkg.exists():
        city.layers = {name: layer for name, layer in city.layers.items() if name in geopackage}
        write_geopackage(city, gpkg)
    return gpkg


def tools(*programs: str) -> bool:
    """The programs a bench drives, installed by `make bench-tools` (Debian packages) when missing."""
    missing = [p for p in programs if not shutil.which(p)]
    if missing:
        print(f"installing {', '.join(missing)} (make bench-tools) …", flush=True)
        subprocess.run(["make", "-s", "bench-tools"], cwd=ROOT)
    still = [p for p in programs if not shutil.which(p)]
    if still:
        print(f"{', '.join(still)} not installed (make bench-tools failed): that part is skipped", flush=True)
    return not still


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def gunicorn(workers: int, ready: str = "/api/v1/", extra: tuple[str, ...] | list[str] = ()):
    """The app on gunicorn as deployed (production settings: DEBUG off, no SQL recording), on a free loopback
    port with its control socket in the stack's folder (gunicorn's default is one per user, taken over by each
    gunicorn started); yields the base URL. Its pid file lets a later run of the stack stop it if this one dies.
    `extra`: more of gunicorn's options (e.g. `--worker-class gthread --threads 4`, as docker-compose runs it)."""
    from django.conf import settings

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # no static files are asked for: none collected
    port = free_port()
    env = {**os.environ, "LOG_LEVEL": "WARNING", "CIVGIS_ENV": "production", "SECRET_KEY": SECRET_KEY,
           "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1", "SESSION_COOKIE_SECURE": "false",
           "CSRF_COOKIE_SECURE": "false"}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "geo.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--log-level", "warning",
         "--timeout", "120",  # a worker's first request imports the app: slow on a busy machine, not a hang
         "--control-socket", str(stack_dir() / f"gunicorn-bench-{port}.ctl"), *extra],
        cwd=ROOT, env=env, start_new_session=True)
    pid_file = PidFile(stack_dir() / "pids" / f"bench-gunicorn-{port}.pid")
    pid_file.write(server.pid)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if server.poll() is not None:
                raise RuntimeError(f"gunicorn exited at start (status {server.returncode})")
            try:
                urllib.request.urlopen(base + ready, timeout=1)
                break
            except urllib.error.HTTPError:
                break  # it answers
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("gunicorn did not answer within 30 s")
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        pid_file.path.unlink(missing_ok=True)


def copy_readings(device_pks: list[int], per_device: int, t0, value) -> float:
    """The limit the IoT benches compare against: each device's pm25 readings at one-minute steps from `t0`
    (`value(device index, minute)`), written by one plain COPY into iot_observation, its indexes and triggers
    included, after deleting that device's readings from `t0` on. Returns the COPY's seconds."""
    import io
    from datetime import UTC, datetime, timedelta

    from django.db import connection

    from iot.models import Quantity

    quantity = Quantity.objects.get(code="pm25").pk
    received = datetime.now(UTC).isoformat()
    buffer = io.StringIO()
    for index, pk in enumerate(device_pks):
        for minute in range(per_device):
            buffer.write(f"{pk}\t{quantity}\t{(t0 + timedelta(minutes=minute)).isoformat()}\t"
                         f"{value(index, minute)}\t{received}\n")
    buffer.seek(0)
    with connection.cursor() as cur:
        cur.execute("DELETE FROM iot_observation WHERE device_id = ANY(%s) AND observed_at >= %s", [device_pks, t0])
        started = time.perf_counter()
        cur.cursor.copy_expert("COPY iot_observation (device_id, quantity_id, observed_at, value, received_at)"
                               " FROM STDIN", buffer)
        seconds = time.perf_counter() - started
        cur.execute("SELECT count(*) FROM iot_observation WHERE device_id = ANY(%s) AND observed_at >= %s",
                    [device_pks, t0])
        assert cur.fetchone()[0] == len(device_pks) * per_device
    return seconds


def remove_small_layers(prefix: str, chunk: int = 500) -> None:
    """Drop what `add_small_layers` made with `prefix` (tables dropped a few hundred per statement)."""
    from django.db import connection, transaction

    from layers.models import Layer

    slugs = list(Layer.objects.filter(slug__startswith=prefix).values_list("slug", flat=True))
    with connection.cursor() as cur:
        for at in range(0, len(slugs), chunk):
            tables = ", ".join(f"layerdata.{slug.replace('-', '_')}" for slug in slugs[at:at + chunk])
            cur.execute(f"DROP TABLE IF EXISTS {tables}")  # noqa: S608 - our names
    with transaction.atomic():
        Layer.objects.filter(slug__startswith=prefix).delete()


def add_small_layers(count: int, prefix: str, template: str = "roads", chunk: int = 250) -> None:
    """`count` more small public vector layers named `prefix`NNNN (the catalog-size benches), each its own table of
    20 features of the demo layer `template`, with a version and a style, spread over the demo's themes. Made a
    chunk at a time (the tables' DDL in one statement, the rows by bulk_create): the same rows one `create` each
    would leave, without one capabilities bump and transaction per layer (the catalog's signals fire once, by the
    bump at the end)."""
    from django.db import connection, transaction

    from layers.models import Layer, LayerVersion, Style, Theme
    from layers.ogc.capabilities_cache import bump

    model = Layer.objects.get(slug=template)
    themes = list(Theme.objects.all())
    start = Layer.objects.filter(slug__startswith=prefix).count()
    for first in range(start, start + count, chunk):
        numbers = range(first, min(first + chunk, start + count))
        tables = {i: f"{prefix}{i:04d}".replace("-", "_") for i in numbers}
        with transaction.atomic():
            with connection.cursor() as cur:
                ddl = (f"CREATE TABLE layerdata.{table} AS SELECT * FROM layerdata.{model.table_name} "  # noqa: S608
                       f"ORDER BY fid LIMIT 20; ALTER TABLE layerdata.{table} ADD PRIMARY KEY (fid); "
                       f"CREATE INDEX ON layerdata.{table} USING gist (geom)" for table in tables.values())
                cur.execute(";".join(ddl))
            layers = Layer.objects.bulk_create([Layer(
                slug=f"{prefix}{i:04d}", table_name=tables[i], title_zh=f"測試圖層 {i:04d}",
                title_en=f"Bench layer {i:04d}", abstract="效能測試用的小圖層（20 筆）", theme=themes[i % len(themes)],
                kind=Layer.Kind.VECTOR, visibility=Layer.Visibility.PUBLIC, geometry_type=model.geometry_type,
                feature_count=20, attributes=model.attributes, native_extent=model.native_extent,
                extent=model.extent, srid=model.srid, source_crs=model.source_crs, min_zoom=0,
                owner_agency=model.owner_agency, ogc_status=Layer.OgcStatus.PUBLISHED) for i in numbers])
            versions = LayerVersion.objects.bulk_create([LayerVersion(
                layer=layer, number=1, table_name=layer.table_name, feature_count=20, source_name="bench")
                for layer in layers])
            for layer, version in zip(layers, versions, strict=True):
                layer.current_version = version
            Layer.objects.bulk_update(layers, ["current_version"])
            Style.objects.bulk_create([Style(layer=layer) for layer in layers])
    bump()
