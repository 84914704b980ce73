"""Private stacks do not outlive their command: a signal to the runner stops them, and a run after one killed with -9
stops what it left (by the pid files in the stack's folder). Each test runs real stacks of its own in a subprocess.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PROJECT_DIR

from geo.localstack import VAR_DIR, Stack

# this test run's own stack: not those
SERVICES = ("DATABASE_URL", "DATABASE_REPLICA_URL", "REDIS_URL", "MQTT_URL", "CIVGIS_STACK_DIR")


def running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"  # a zombie has stopped (its parent has not reaped it yet)


@pytest.fixture
def stack_name():
    name = f"lifecycle-{os.getpid()}"
    yield name
    Stack(name, fresh=True).stop()  # whatever a failed test left: stopped and wiped
    shutil.rmtree(VAR_DIR / name, ignore_errors=True)


def runner_env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in SERVICES}


def runner_command(name: str, *command: str) -> list[str]:
    return [sys.executable, "-m", "geo.localstack", "run", name, "--fresh", "--", *command]


def start_runner(name: str, flag: Path) -> tuple[subprocess.Popen, dict[str, int]]:
    """A runner whose command writes its pid to `flag` and waits; returns it (its output in `flag`.log) and the
    pids of its servers."""
    with open(f"{flag}.log", "w") as out:
        runner = subprocess.Popen(runner_command(name, "sh", "-c", f'echo $$ > {flag}; exec sleep 300'),
                                  cwd=PROJECT_DIR, env=runner_env(), stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not (flag.exists() and flag.read_text().strip()):
        if runner.poll() is not None or time.monotonic() > deadline:
            runner.kill()
            pytest.fail(f"the stack did not start: {Path(f'{flag}.log').read_text()}")
        time.sleep(0.1)
    root = VAR_DIR / name
    pids = {"command": int(flag.read_text())}
    for service in ("redis", "mosquitto"):
        pids[service] = int((root / "pids" / f"{service}.pid").read_text().split()[0])
    pids["postgres"] = int((root / "pg" / "pgdata" / "postmaster.pid").read_text().split()[0])
    assert all(running(pid) for pid in pids.values()), pids
    return runner, pids


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_to_the_runner_stops_the_command_and_the_stack(stack_name, tmp_path, sig):
    runner, pids = start_runner(stack_name, tmp_path / "started")
    runner.send_signal(sig)
    runner.wait(60)
    out = (tmp_path / "started.log").read_text()
    assert runner.returncode == 128 + sig, out
    assert f"{signal.Signals(sig).name} received" in out
    assert [name for name, pid in pids.items() if running(pid)] == []
    assert not (VAR_DIR / stack_name / "runner.pid").exists()


def test_the_next_run_stops_what_a_killed_runner_left(stack_name, tmp_path):
    runner, old = start_runner(stack_name, tmp_path / "first")
    first = runner
    try:
        runner.kill()  # kill -9: nothing of it runs to clean up
        runner.wait(10)
        time.sleep(0.5)
        assert all(running(pid) for name, pid in old.items()), "kill -9 should have left the stack running"
        runner, new = start_runner(stack_name, tmp_path / "second")
        assert [name for name, pid in old.items() if running(pid)] == []
        runner.send_signal(signal.SIGTERM)
        runner.wait(60)
        out = (tmp_path / "second.log").read_text()
    finally:
        if runner.poll() is None:
            runner.kill()
    assert "stopped what an earlier run left" in out
    assert f"command-of-{first.pid} (pid {old['command']})" in out
    for name in ("redis", "mosquitto"):
        assert f"{name} (pid {old[name]})" in out
    assert "PostgreSQL" in out
    assert [name for name, pid in new.items() if running(pid)] == []
