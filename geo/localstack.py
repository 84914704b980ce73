"""Private PostgreSQL+PostGIS, Redis and Mosquitto (MQTT) for the demo and the tests.

Runs before Django is configured (it decides what DATABASE_URL and REDIS_URL are), so it imports nothing of
Django. Each stack lives in `.var/<name>/`: `pgdata/`, `run/` (Unix socket), `redis/`, `mosquitto/`, logs.

    python -m geo.localstack demo                 # the `make demo` flow
    python -m geo.localstack run test --fresh -- pytest …   # run a command against a stack
    python -m geo.localstack env demo             # print the env of a running stack (for a shell)
    ./civgis manage import_layers DIR             # manage.py against the running demo (this module's `manage`)
    ./civgis worker -Q analysis                   # one more Celery worker beside the demo, on those queues

A service is started only when its URL is not already set in the environment; what this process started it
also stops, on its way out and on SIGTERM, SIGINT or SIGHUP. Every process it starts leaves a pid file in
`.var/<name>/pids/` and the run that owns the stack its own in `.var/<name>/runner.pid`: a run that finds the
stack's owner dead (killed with -9, a lost machine) first stops what that owner left running.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_DIR / ".var"
DB_NAME = "civgis"
DB_USER = "civgis"
PG_PORT = {"demo": 54329, "test": 54339}


class StackError(RuntimeError):
    """A local service could not be started; the message says which and where its log is."""


def _pg_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise StackError("PostgreSQL server binaries not found under /usr/lib/postgresql (run `make install`)")
    return Path(found[-1]).parent


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, what: str, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
    raise StackError(f"{what} did not become ready within {timeout:.0f} s; log {log}:\n{tail}")


def _start_time(pid: int) -> str | None:
    """The kernel's start time of a running process (field 22 of /proc/<pid>/stat): with the pid, who it is (pids
    recycle). None for a process that has ended, including one that has exited and is not yet reaped (a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return None if fields[0] in ("Z", "X") else fields[19]


class PidFile:
    """A process this stack started: its pid and start time in a file, so a later run can find and stop it."""

    def __init__(self, path: Path):
        self.path = path

    def write(self, pid: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{pid} {_start_time(pid)}\n")

    def alive(self) -> int | None:
        """The pid if that very process still runs (not a later one given the same pid)."""
        try:
            pid, started = self.path.read_text().split()
        except (OSError, ValueError):
            return None
        return int(pid) if _start_time(int(pid)) == started else None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; the file goes. Returns the pid if one was running."""
        pid = self.alive()
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + timeout
                while self.alive() and time.monotonic() < deadline:
                    time.sleep(0.05)
                if self.alive():
                    os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.path.unlink(missing_ok=True)
        return pid


def postgres_url(sockdir: Path, port: int) -> str:
    host = urllib.parse.quote(str(sockdir), safe="")
    return f"postgis://{DB_USER}@{host}:{port}/{DB_NAME}"


class PostgresCluster:
    """A PostgreSQL cluster in a project folder, reachable only through its own Unix socket."""

    def __init__(self, root: Path, port: int):
        self.root = root
        self.port = port
        self.bindir = _pg_bindir()
        self.datadir = self._owned_dir("pgdata")
        self.sockdir = self._owned_dir("run")
        self.log = self.root / "postgres.log"
        self.started_here = False

    def _owned_dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")
            os.chmod(path, 0o700)
        return path

    @property
    def url(self) -> str:
        return postgres_url(self.sockdir, self.port)

    def _run(self, cmd: list[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run(_as_postgres(cmd), capture_output=True, text=True, **kw)

    def _psql(self, sql: str, db: str = DB_NAME) -> subprocess.CompletedProcess:
        return self._run([str(self.bindir / "psql"), "-X", "-q", "-h", str(self.sockdir), "-p", str(self.port),
                          "-U", DB_USER, "-d", db, "-v", "ON_ERROR_STOP=1", "-c", sql])

    def is_running(self) -> bool:
        return self._run([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "status"]).returncode == 0

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._init_data()
        if not self.is_running():
            if self.log.exists() and os.geteuid() == 0:
                shutil.chown(self.log, "postgres", "postgres")
            if os.geteuid() == 0:
                self.log.touch()
                shutil.chown(self.log, "postgres", "postgres")
            res = self._run([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.log),
                             "-o", self._options(), "-w", "-t", "30", "start"])
            if res.returncode:
                raise StackError(f"PostgreSQL did not start; log {self.log}:\n{res.stdout}{res.stderr}")
            self.started_here = True
        self._prepare_database()

    def _init_data(self) -> None:
        if not (self.datadir / "PG_VERSION").exists():
            res = self._run([str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", DB_USER,
                             "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"])
            if res.returncode:
                raise StackError(f"initdb failed in {self.datadir}:\n{res.stderr}")

    def _options(self) -> str:
        return (f"-c listen_addresses='' -c unix_socket_directories='{self.sockdir}' -p {self.port} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c jit=off "
                "-c shared_buffers=256MB -c max_connections=100")

    def _prepare_database(self) -> None:
        if self._psql("SELECT 1", db=DB_NAME).returncode:
            res = self._psql(f"CREATE DATABASE {DB_NAME}", db="postgres")
            if res.returncode:
                raise StackError(f"could not create database {DB_NAME}: {res.stderr}")
        for extension, package in (("postgis", "PostGIS"), ("pgrouting", "pgRouting")):  # pgRouting needs PostGIS
            res = self._psql(f"CREATE EXTENSION IF NOT EXISTS {extension}")
            if res.returncode:
                raise StackError(f"{package} is not installed for this PostgreSQL ({self.bindir}): {res.stderr}")

    def shut_down(self, mode: str = "fast") -> None:
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"])

    def stop(self) -> None:
        if self.started_here and self.is_running():
            self.shut_down()


def replica_root(primary_root: Path) -> Path:
    """Where a primary's streaming replica lives: beside the primary's folder (reachable by the same user)."""
    return primary_root.parent / f"{primary_root.name}-replica"


class ReplicaCluster(PostgresCluster):
    """A hot standby of a PostgreSQL cluster of ours, read-only, streaming from it through a replication slot.

    Made fresh at every start (pg_basebackup -R over the primary's socket: ~1 s for the test stack) rather than
    kept: a standby left behind by an earlier run would hold the primary's WAL in its slot while it is down.
    Started only when asked (`python -m geo.localstack run NAME --replica`, `make demo` with
    CIVGIS_STACK_REPLICA=1, tests/test_replica.py), so the rest of the test suite never pays for it.
    """

    SLOT = "civgis_replica"

    def __init__(self, primary: PostgresCluster):
        self.primary = primary
        super().__init__(replica_root(primary.root), primary.port + 1)

    def _init_data(self) -> None:
        if self.is_running():
            return
        self.drop_slot()
        shutil.rmtree(self.datadir, ignore_errors=True)
        self.datadir = self._owned_dir("pgdata")
        res = self._run([str(self.bindir / "pg_basebackup"), "-D", str(self.datadir), "-h", str(self.primary.sockdir),
                         "-p", str(self.primary.port), "-U", DB_USER, "-X", "stream", "-c", "fast", "-R",
                         "-C", "-S", self.SLOT, "--no-sync", "--no-manifest"])
        if res.returncode:
            raise StackError(f"pg_basebackup from {self.primary.datadir} failed:\n{res.stderr}")

    def _options(self) -> str:
        # hot_standby_feedback: the primary's vacuum waits for the standby's queries instead of cancelling them
        return super()._options() + " -c hot_standby=on -c hot_standby_feedback=on"

    def _prepare_database(self) -> None:
        _wait(lambda: self._psql("SELECT 1").returncode == 0, "the replica's database", self.log, timeout=30)

    def drop_slot(self) -> None:
        """The primary stops keeping WAL for this standby (it is gone or about to be made afresh)."""
        if self.primary.is_running():
            self.primary._psql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "  # noqa: SLF001
                               "WHERE slot_name = 'civgis_replica' AND NOT active", db="postgres")

    def stop(self) -> None:
        """Stop it (whoever started it) and release its slot on the primary."""
        if self.is_running():
            self.shut_down()
        self.drop_slot()


class LoopbackServer:
    """A server on a free loopback port, with its files in a project folder; the subclass says how to run it."""

    name = ""
    binary = ""
    scheme = ""

    def __init__(self, root: Path):
        self.root = root
        self.dir = root / self.name
        self.port_file = self.dir / "port"
        self.pid_file = PidFile(root / "pids" / f"{self.name}.pid")
        self.log = root / f"{self.name}.log"
        self.proc: subprocess.Popen | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def _ping(self) -> bool:
        raise NotImplementedError

    def _command(self, binary: str) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.port_file.exists():
            self.port = int(self.port_file.read_text())
            if self._ping():
                return  # another run of ours already serves it
        binary = shutil.which(self.binary)
        if not binary:
            raise StackError(f"{self.binary} not found (run `make install`)")
        self.port = _free_port()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self._command(binary), stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.pid_file.write(self.proc.pid)
        _wait(self._ping, self.name, self.log, timeout=15)
        self.port_file.write_text(str(self.port))

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.proc:
            self.port_file.unlink(missing_ok=True)
            self.pid_file.path.unlink(missing_ok=True)


class RedisServer(LoopbackServer):
    """Redis, persisting into the stack's folder."""

    name, binary, scheme = "redis", "redis-server", "redis"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def _command(self, binary: str) -> list[str]:
        return [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir), "--save", "60 100",
                "--appendonly", "no", "--protected-mode", "yes"]


# MQTT CONNECT (protocol 3.1.1, clean session, keep-alive 5 s, client id "ping") and the CONNACK that accepts it
MQTT_CONNECT = b"\x10\x10\x00\x04MQTT\x04\x02\x00\x05\x00\x04ping"
MQTT_CONNACK_OK = b"\x20\x02\x00\x00"


class MosquittoBroker(LoopbackServer):
    """An MQTT broker (Mosquitto) for the sensor feeds; anonymous clients on loopback only."""

    name, binary, scheme = "mosquitto", "mosquitto", "mqtt"

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(MQTT_CONNECT)
                return s.recv(4) == MQTT_CONNACK_OK
        except OSError:
            return False

    def _command(self, binary: str) -> list[str]:
        conf = self.dir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                        "max_queued_messages 100000\n")
        return [binary, "-c", str(conf)]


IDENTITY_DIR = PROJECT_DIR / "geo" / "identity"
# The stacks' directory (geo/identity/directory.ldif): its suffix, the administrator the tests change it as, the
# service account civgis binds with (read-only by the directory's access rules)
DIRECTORY_SUFFIX = "dc=city,dc=example"
DIRECTORY_ADMIN_DN = f"cn=admin,{DIRECTORY_SUFFIX}"
DIRECTORY_ADMIN_PASSWORD = "stack-directory-admin"  # noqa: S105 - a private test directory on loopback
OIDC_CLIENT_ID = "civgis"
OIDC_CLIENT_SECRET = "stack-oidc-client-secret"  # noqa: S105 - the private test provider's one client
# LDAP: an anonymous simple bind (message 1) and the start of its success answer
LDAP_ANON_BIND = b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80\x00"
LDAP_BIND_OK = b"\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00"


class DirectoryServer(LoopbackServer):
    """OpenLDAP's slapd with the city directory of geo/identity/directory.ldif, loaded when the stack is new."""

    name, binary, scheme = "slapd", "slapd", "ldap"

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(LDAP_ANON_BIND)
                return s.recv(16).startswith(LDAP_BIND_OK)
        except OSError:
            return False

    def _command(self, binary: str) -> list[str]:
        conf, data = self.dir / "slapd.conf", self.dir / "data"
        schema = "\n".join(f"include /etc/ldap/schema/{s}.schema" for s in ("core", "cosine", "inetorgperson"))
        conf.write_text(f"""{schema}
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {self.dir}/slapd.pid
database mdb
maxsize 67108864
suffix "{DIRECTORY_SUFFIX}"
rootdn "{DIRECTORY_ADMIN_DN}"
rootpw {DIRECTORY_ADMIN_PASSWORD}
directory {data}
index objectClass,uid,member eq
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="cn=civgis,ou=services,{DIRECTORY_SUFFIX}" read by self read by * none
""")
        if not (data / "data.mdb").exists():
            data.mkdir(exist_ok=True)
            res = subprocess.run([shutil.which("slapadd") or "/usr/sbin/slapadd", "-q", "-f", str(conf), "-l",
                                  str(IDENTITY_DIR / "directory.ldif")], capture_output=True, text=True)
            if res.returncode:
                raise StackError(f"slapadd could not load {IDENTITY_DIR / 'directory.ldif'}: {res.stderr}")
        # -d 0: in the foreground (no fork), logging nothing but errors
        return [binary, "-f", str(conf), "-h", f"ldap://127.0.0.1:{self.port}/", "-d", "0"]

    def env(self) -> dict[str, str]:
        """The settings that point civgis at this directory (geo/settings.py, "Sign-in")."""
        return {"LDAP_SERVER_URI": self.url, "LDAP_BIND_DN": f"cn=civgis,ou=services,{DIRECTORY_SUFFIX}",
                "LDAP_BIND_PASSWORD": "civgis-directory-reader", "LDAP_USER_BASE": f"ou=people,{DIRECTORY_SUFFIX}",
                "LDAP_GROUP_BASE": f"ou=groups,{DIRECTORY_SUFFIX}",
                "LDAP_DENY_GROUP": f"cn=disabled,ou=groups,{DIRECTORY_SUFFIX}"}


class OidcProvider(LoopbackServer):
    """A real OpenID Connect provider (the `oidc-provider` npm package, geo/identity/oidc-provider.mjs) with one
    client, civgis, whose redirect addresses are the test client's and the demo's."""

    name, binary, scheme = "oidc", "node", "http"

    def _ping(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/.well-known/openid-configuration", timeout=0.5) as resp:
                return resp.status == 200
        except OSError:
            return False

    def _command(self, binary: str) -> list[str]:
        if not (IDENTITY_DIR / "node_modules" / "oidc-provider").exists():
            raise StackError(f"the OpenID Connect provider's npm packages are not installed in {IDENTITY_DIR} "
                             "(run `make install`)")
        demo_port = os.environ.get("PORT", "8000")
        hosts = ["http://testserver", f"http://127.0.0.1:{demo_port}", f"http://localhost:{demo_port}"]
        cmd = [binary, str(IDENTITY_DIR / "oidc-provider.mjs"), "--port", str(self.port), "--client-id",
               OIDC_CLIENT_ID, "--client-secret", OIDC_CLIENT_SECRET]
        for host in hosts:
            cmd += ["--redirect-uri", f"{host}/sign-in/oidc/callback/", "--logout-uri", f"{host}/"]
        return cmd

    def env(self) -> dict[str, str]:
        return {"OIDC_ISSUER": self.url, "OIDC_CLIENT_ID": OIDC_CLIENT_ID, "OIDC_CLIENT_SECRET": OIDC_CLIENT_SECRET,
                "OIDC_SCOPES": "openid profile email groups"}


# How the stand-ins' agencies and groups become civgis agencies and groups (AUTH_AGENCY_MAP, AUTH_GROUP_MAP)
STACK_AUTH_MAPS = {
    "AUTH_AGENCY_MAP": '{"udd": "都市發展局", "water": "水務局"}',
    "AUTH_GROUP_MAP": '{"gis-admins": ["@staff", "圖資管理"], "gis-editors": "圖資編輯", "flood-team": "防災應變小組"}',
}


NGINX_TEMPLATE = PROJECT_DIR / "deploy" / "nginx" / "templates" / "default.conf.template"


class NginxFront(LoopbackServer):
    """nginx in front of an app server as docker-compose runs it: the shipped template (deploy/nginx) with this
    machine's upstream and folders, inside a main configuration of its own (tests and benchmarks)."""

    name, scheme = "nginx", "http"

    def __init__(self, root: Path, upstream: str, tile_cache_dir: Path, static_root: Path,
                 accel_location: str = "/_tile-cache/", workers: int = 2):
        self.name = f"nginx-{upstream.rsplit(':', 1)[-1]}"  # one per app server: never another's config
        super().__init__(root)
        self.binary = shutil.which("nginx") or "/usr/sbin/nginx"  # /usr/sbin: not on every user's PATH
        self.values = {"CIVGIS_UPSTREAM": upstream, "TILE_CACHE_DIR": str(tile_cache_dir),
                       "STATIC_ROOT": str(static_root), "TILE_ACCEL_REDIRECT": accel_location}
        self.workers = workers

    def start(self) -> None:
        self.port_file.unlink(missing_ok=True)  # always a fresh one, configured for this upstream
        super().start()

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def _command(self, binary: str) -> list[str]:
        import pwd
        from string import Template

        site = Template(NGINX_TEMPLATE.read_text()).safe_substitute(  # as the image's envsubst: nginx's $vars stay
            self.values, NGINX_LISTEN=f"127.0.0.1:{self.port}")
        (self.dir / "civgis.conf").write_text(site)
        temp = " ".join(f"{kind}_temp_path {self.dir}/{kind}-temp;" for kind in ("client_body", "proxy", "fastcgi",
                                                                                   "uwsgi", "scgi"))
        mime = "include /etc/nginx/mime.types;" if Path("/etc/nginx/mime.types").exists() else ""
        # as root, the workers run as root too: they read the caller's (possibly private) tile cache folder
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
        conf = self.dir / "nginx.conf"
        conf.write_text(f"""{user}
worker_processes {self.workers};
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.log} warn;
events {{ worker_connections 1024; }}
http {{
    {mime}
    default_type application/octet-stream;
    sendfile on;
    access_log off;
    {temp}
    include {self.dir}/civgis.conf;
}}
""")
        return [binary, "-p", str(self.dir), "-c", str(conf), "-e", str(self.log)]


class Stack:
    """The services a command needs, taken from the environment or started privately under .var/<name>."""

    def __init__(self, name: str, fresh: bool = False, replica: bool = False):
        self.name = name
        self.root = VAR_DIR / name
        self.root.mkdir(parents=True, exist_ok=True)
        self.owner = PidFile(self.root / "runner.pid")
        owner = self.owner.alive()
        if owner and owner != os.getpid():
            if fresh:
                raise StackError(f"{self.root} is in use by process {owner} (another run of geo.localstack); "
                                 "stop it before starting a fresh stack")
            self.owner = None  # its servers are reused, and left to it to stop
        else:
            self.stop_leftovers()
            if fresh:
                self._wipe()
            self.owner.write(os.getpid())
        self.pids = self.root / "pids"
        self.postgres = None if os.environ.get("DATABASE_URL") else PostgresCluster(
            self._reachable_root(), PG_PORT.get(name, 54349))
        # a streaming replica of the stack's own cluster, when asked for (DATABASE_REPLICA_URL)
        self.replica = ReplicaCluster(self.postgres) if replica and self.postgres else None
        self.redis = None if os.environ.get("REDIS_URL") else RedisServer(self.root)
        self.mqtt = None if os.environ.get("MQTT_URL") else MosquittoBroker(self.root)
        self.directory = None if os.environ.get("LDAP_SERVER_URI") else DirectoryServer(self.root)
        self.oidc = None if os.environ.get("OIDC_ISSUER") else OidcProvider(self.root)

    def _stop_pid_files(self, keep: tuple[str, ...] = ()) -> list[str]:
        stopped = []
        for pid_file in sorted((self.root / "pids").glob("*.pid")):
            if pid_file.stem not in keep:
                pid = PidFile(pid_file).stop()
                if pid:
                    stopped.append(f"{pid_file.stem} (pid {pid})")
        return stopped

    def stop_leftovers(self) -> list[str]:
        """Stop what a run that died without cleaning up left running (the stack's owner is gone)."""
        stopped = self._stop_pid_files()
        for port_file in self.root.glob("*/port"):
            port_file.unlink()
        if (self.root / "pg").exists():
            pg = PostgresCluster(self._reachable_root(), 0)
            if (replica_root(pg.root) / "pgdata" / "PG_VERSION").exists():
                standby = PostgresCluster(replica_root(pg.root), 0)
                if standby.is_running():
                    standby.shut_down()
                    stopped.append("PostgreSQL replica")
            if pg.is_running():
                pg.shut_down()
                stopped.append("PostgreSQL")
        if stopped:
            print(f"civgis: stopped what an earlier run left in {self.root}: {', '.join(stopped)}", flush=True)
        return stopped

    def _wipe(self) -> None:
        pg_root = self._reachable_root()
        shutil.rmtree(pg_root, ignore_errors=True)
        shutil.rmtree(replica_root(pg_root), ignore_errors=True)
        for child in self.root.iterdir():
            if child.name != "runner.pid":
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)

    def _reachable_root(self) -> Path:
        """The cluster's folder: under .var when the postgres user can reach it, else a sibling in /var/tmp.

        Running as root from a checkout under /root (mode 700) the postgres user cannot enter .var, so the
        cluster goes to /var/tmp/civgis-<hash>/ and .var/<name>/pg links to it.
        """
        local = self.root / "pg"
        if os.geteuid() != 0:
            return local
        probe = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(self.root)])
        if probe.returncode == 0 and not local.is_symlink():
            return local
        import hashlib

        digest = hashlib.sha1(str(self.root).encode()).hexdigest()[:12]
        outside = Path("/var/tmp") / f"civgis-{digest}"
        outside.mkdir(parents=True, exist_ok=True)
        if not local.is_symlink():
            local.symlink_to(outside)
        return outside

    def start(self) -> dict[str, str]:
        env = dict(os.environ)
        try:
            if self.postgres:
                self.postgres.start()
                env["DATABASE_URL"] = self.postgres.url
            if self.replica:
                self.replica.start()
                env["DATABASE_REPLICA_URL"] = self.replica.url
            if self.redis:
                self.redis.start()
                env["REDIS_URL"] = self.redis.url
            if self.mqtt:
                self.mqtt.start()
                env["MQTT_URL"] = self.mqtt.url
            for identity in (self.directory, self.oidc):
                if identity:
                    identity.start()
                    env.update(identity.env())
            if self.directory or self.oidc:
                for key, value in STACK_AUTH_MAPS.items():
                    env.setdefault(key, value)
        except BaseException:
            self.stop()
            raise
        env.setdefault("CIVGIS_DATA_DIR", str(self.root / "data"))
        return env

    def stop(self) -> None:
        if self.owner:  # what the command started and left a pid file for (a test's Celery worker) goes first
            left = self._stop_pid_files(keep=(RedisServer.name, MosquittoBroker.name, DirectoryServer.name,
                                              OidcProvider.name))
            if left:
                print(f"civgis: stopped what the command left running: {', '.join(left)}", flush=True)
        if self.owner and self.postgres and not self.replica and replica_root(self.postgres.root).exists():
            # one a test started and could not stop
            ReplicaCluster(self.postgres).stop()
        for service in (self.oidc, self.directory, self.mqtt, self.redis, self.replica, self.postgres):
            if service:
                service.stop()
        if self.owner:
            self.owner.path.unlink(missing_ok=True)


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, str(PROJECT_DIR / "manage.py"), *args], env=env, check=True)


def _health(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError as exc:
        return 0, str(exc)


def demo_env(env: dict[str, str]) -> dict[str, str]:
    """The demo's settings: development defaults, but DEBUG off (a city may run the demo on its LAN, and DEBUG
    pages show tracebacks and server paths to anyone); static files are collected and served by WhiteNoise."""
    env.setdefault("CIVGIS_ENV", "development")
    env.setdefault("DEBUG", "false")
    return env


class Interrupted(KeyboardInterrupt):
    """A stopping signal reached the runner (a KeyboardInterrupt, so every cleanup that handles Ctrl-C runs)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)  # kill, Ctrl-C, a closed terminal


def _interrupt(signum, _frame):
    raise Interrupted(signum)


def _catch_stop_signals() -> None:
    for sig in STOP_SIGNALS:
        signal.signal(sig, _interrupt)


def _ignore_stop_signals() -> None:
    """While stopping: a second Ctrl-C must not cut the cleanup short and leave servers behind."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def _end(child: subprocess.Popen, first: int | None, timeout: float) -> None:
    """Stop a child: `first` signal (None: it was sent already), SIGKILL if it is still there after `timeout` s."""
    if first and child.poll() is None:
        child.send_signal(first)
    try:
        child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def demo(args: argparse.Namespace) -> int:
    port = int(os.environ.get("PORT", "8000"))
    children: dict[str, subprocess.Popen] = {}
    stack = None
    # Ctrl-C reaches only this process (the servers run in their own sessions) and stops them in order.
    _catch_stop_signals()
    try:
        stack = Stack("demo", replica=os.environ.get("CIVGIS_STACK_REPLICA", "") in ("1", "true"))
        print("civgis: starting PostGIS, Redis and Mosquitto …", flush=True)
        env = demo_env(stack.start())
        _manage(env, "migrate", "--no-input", "-v", "0")
        _manage(env, "collectstatic", "--no-input", "-v", "0")
        _manage(env, "make_demo_city", "--size", os.environ.get("DEMO_SIZE", "1"), "--if-missing")
        _manage(env, "publish_ogc", "-v", "0")
        _manage(env, "demo_feeds")
        _manage(env, "city_dashboard", "--if-missing")
        env.setdefault("IOT_MQTT_CONSUMER", "true")  # one of the worker's two slots consumes the sensor feeds
        logs = stack.root / "logs"
        logs.mkdir(exist_ok=True)
        bindir = Path(sys.executable).parent

        def spawn(name: str, cmd: list[str], log: Path | None) -> None:
            out = open(log, "ab") if log else None  # noqa: SIM115 - the child holds it
            children[name] = subprocess.Popen(cmd, cwd=PROJECT_DIR, env=env, stdout=out,
                                              stderr=subprocess.STDOUT if out else None, start_new_session=True)
            PidFile(stack.pids / f"{name}.pid").write(children[name].pid)

        spawn("worker", [str(bindir / "celery"), "-A", "geo", "worker", "--loglevel", "INFO", "--concurrency", "2",
                         "--hostname", "civgis-demo@%h"], logs / "worker.log")
        # beat in a process of its own (not the worker's -B): as in docker-compose, a worker restarted or scaled
        # never doubles or resets the schedule; its schedule file stays with the stack
        spawn("beat", [str(bindir / "celery"), "-A", "geo", "beat", "--loglevel", "INFO",
                       "--schedule", str(stack.root / "celerybeat-schedule")], logs / "beat.log")
        # the control socket in the stack's folder: gunicorn's default (~/.gunicorn/gunicorn.ctl) is one for
        # every gunicorn of the user, and each one started takes it over
        spawn("web", [str(bindir / "gunicorn"), "geo.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "3",
                      "--worker-class", "gthread", "--threads", "8",  # live edits (SSE) hold a thread each
                      "--control-socket", str(stack.root / "gunicorn.ctl"),
                      "--access-logfile", str(logs / "access.log"), "--error-logfile", str(logs / "web.log")], None)
        base = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 60
        status, body = 0, ""
        while time.monotonic() < deadline:
            if any(c.poll() is not None for c in children.values()):
                raise StackError(f"a server exited at start; see {logs}/web.log, worker.log and beat.log")
            status, body = _health(base + "api/health")
            if status == 200:
                break
            time.sleep(0.5)
        print(f"civgis: health {status or 'unreachable'} {body[:400]}", flush=True)
        print(f"\ncivgis is running at {base}  (API docs: {base}api/v1/docs/)  — Ctrl-C stops it.\n",
              flush=True)
        while all(c.poll() is None for c in children.values()):
            time.sleep(0.5)
        print("civgis: a server stopped; shutting down", flush=True)
        return 1
    except KeyboardInterrupt:
        print("\ncivgis: stopping …", flush=True)
        return 0
    except (StackError, subprocess.CalledProcessError) as exc:
        print(f"civgis: {exc}", file=sys.stderr)
        return 1
    finally:
        _ignore_stop_signals()
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for name, child in children.items():
            _end(child, None, 15)
            (stack.pids / f"{name}.pid").unlink(missing_ok=True)
        if stack:
            stack.stop()


def run(args: argparse.Namespace) -> int:
    """Run a command against the stack. A stopping signal to this runner is passed on to the command as a Ctrl-C
    (pytest then runs its teardown and stops its own workers), then the stack is stopped."""
    stack = child = None
    received = 0
    _catch_stop_signals()
    try:
        stack = Stack(args.name, fresh=args.fresh, replica=args.replica)
        env = stack.start()
        env["CIVGIS_STACK_DIR"] = str(stack.root)  # where the command may leave pid files of its own servers
        child = subprocess.Popen(args.command, env=env)
        # a run after this one is killed -9 stops the command too
        PidFile(stack.pids / f"command-of-{os.getpid()}.pid").write(child.pid)
        return child.wait()
    except Interrupted as exc:
        received = exc.signum
        print(f"civgis: {exc} received; stopping the command and the {args.name} stack", file=sys.stderr,
              flush=True)
        return 128 + exc.signum
    except StackError as exc:
        print(f"civgis: {exc}", file=sys.stderr)
        return 1
    finally:
        _ignore_stop_signals()
        if child:
            if received == signal.SIGINT:  # a terminal's Ctrl-C reached the command too: let it finish first
                try:
                    child.wait(5)
                except subprocess.TimeoutExpired:
                    pass
            _end(child, signal.SIGINT, 30)
        if stack:
            stack.stop()


def stack_env(name: str) -> dict[str, str]:
    """The service URLs of a stack that a run of ours is serving now (`make demo` for "demo"), for a command
    started beside it; StackError saying how to start it when none is."""
    root = VAR_DIR / name
    port = PG_PORT.get(name, 54349)
    sockdir = (root / "pg").resolve() / "run"  # the cluster's folder, or the link to it out of reach of .var
    if not PidFile(root / "runner.pid").alive() or not (sockdir / f".s.PGSQL.{port}").exists():
        start = "`make demo`" if name == "demo" else f"`python -m geo.localstack run {name} -- …`"
        raise StackError(f"the {name} stack is not running (nothing serves {root}): start it with {start} in "
                         "another terminal, then run this again")
    env = {"DATABASE_URL": postgres_url(sockdir, port), "CIVGIS_DATA_DIR": str(root / "data")}
    replica_sockdir = replica_root(sockdir.parent) / "run"
    if (replica_sockdir / f".s.PGSQL.{port + 1}").exists():
        env["DATABASE_REPLICA_URL"] = postgres_url(replica_sockdir, port + 1)
    for service, key, url in (("redis", "REDIS_URL", "redis://127.0.0.1:{}/0"),
                              ("mosquitto", "MQTT_URL", "mqtt://127.0.0.1:{}")):
        port_file = root / service / "port"
        if port_file.exists():
            env[key] = url.format(port_file.read_text().strip())
    for server in (DirectoryServer(root), OidcProvider(root)):
        if server.port_file.exists():
            server.port = int(server.port_file.read_text())
            env.update(server.env())
    return env


def print_env(args: argparse.Namespace) -> int:
    try:
        env = stack_env(args.name)
    except StackError as exc:
        print(f"civgis: {exc}", file=sys.stderr)
        return 1
    for key, value in env.items():
        print(f"export {key}='{value}'")
    return 0


def manage(args: argparse.Namespace) -> int:
    """manage.py with the running stack's environment (the demo's settings for the demo)."""
    if not args.command:
        print("civgis: which command? e.g. ./civgis manage import_layers DIR (./civgis manage help lists them)",
              file=sys.stderr)
        return 2
    try:
        env = {**os.environ, **stack_env(args.stack)}
    except StackError as exc:
        print(f"civgis: {exc}", file=sys.stderr)
        return 1
    if args.stack == "demo":
        env = demo_env(env)
    return subprocess.run([sys.executable, str(PROJECT_DIR / "manage.py"), *args.command], env=env).returncode


def worker(args: argparse.Namespace) -> int:
    """One more Celery worker beside the running demo, on the queues named (settings.TASK_QUEUES_BY_KIND), e.g.
    `./civgis worker -Q analysis`: a second worker for a kind of work that queues up. Runs until Ctrl-C."""
    try:
        env = demo_env({**os.environ, **stack_env("demo")})
    except StackError as exc:
        print(f"civgis: {exc}", file=sys.stderr)
        return 1
    name = (args.queues or "all").replace(",", "+")
    cmd = [str(Path(sys.executable).parent / "celery"), "-A", "geo", "worker", "--loglevel", "INFO",
           "--concurrency", str(args.concurrency), "--hostname", f"civgis-{name}-{os.getpid()}@%h"]
    return subprocess.run([*cmd, *(["-Q", args.queues] if args.queues else [])], cwd=PROJECT_DIR,
                          env=env).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m geo.localstack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("demo", help="start everything and serve the demo until Ctrl-C").set_defaults(func=demo)
    p_run = sub.add_parser("run", help="run a command against a private stack")
    p_run.add_argument("name")
    p_run.add_argument("--fresh", action="store_true", help="wipe the stack's folder first")
    p_run.add_argument("--replica", action="store_true",
                       help="also a streaming replica of its PostgreSQL (DATABASE_REPLICA_URL)")
    p_run.set_defaults(func=run)
    p_env = sub.add_parser("env", help="print the environment of a running stack")
    p_env.add_argument("name", nargs="?", default="demo")
    p_env.set_defaults(func=print_env)
    p_manage = sub.add_parser("manage", help="run manage.py against a running stack (the demo unless --stack)")
    p_manage.add_argument("--stack", default="demo")
    p_manage.add_argument("manage_args", nargs=argparse.REMAINDER, metavar="COMMAND …")
    p_manage.set_defaults(func=manage)
    p_worker = sub.add_parser("worker", help="one more Celery worker beside the demo, on the queues named")
    p_worker.add_argument("-Q", "--queues", default="", help="comma-separated: celery, imports, analysis, "
                          "publishing, harvesting, sensors (all when not given)")
    p_worker.add_argument("--concurrency", type=int, default=1)
    p_worker.set_defaults(func=worker)
    argv = sys.argv[1:] if argv is None else argv
    # `run`'s command follows "--"; `manage` takes everything after it as manage.py's own arguments
    command = argv[argv.index("--") + 1:] if "--" in argv and argv[:1] != ["manage"] else []
    args = parser.parse_args(argv[: len(argv) - len(command) - (1 if command else 0)])
    if args.action == "run" and not command:
        parser.error("run needs a command after --")
    args.command = args.manage_args if args.action == "manage" else command
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
