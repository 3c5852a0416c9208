"""serve.py: settings hand-over to workers, the server command, worker count, worker start-up."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from srs.config import Settings, load_settings
from srs.web.serve import (
    APP_FACTORY,
    DEFAULT_THREADS,
    MULTIPROC_VARIABLE,
    default_workers,
    server_command,
    server_environ,
    settings_environ,
)


def test_settings_survive_the_trip_through_the_environment(tmp_path: Path) -> None:
    settings = load_settings(
        environ={},
        overrides={
            "data_dir": tmp_path / "d",
            "users": 7,
            "s3_prefix": "x/y/",
            "store": "local",
            "event_types": {"deploy": "launched", "open, then=look": "viewed"},
        },
    )
    assert load_settings(environ=settings_environ(settings)) == settings


def test_server_environ_spells_out_settings_and_drops_the_config_file(tmp_path: Path) -> None:
    settings = load_settings(environ={}, overrides={"data_dir": tmp_path})
    environ = server_environ(
        settings, {"SRS_CONFIG": "/etc/srs.toml", "PATH": "/bin", "SRS_USERS": "3"}, "/m"
    )
    assert "SRS_CONFIG" not in environ
    assert environ["PATH"] == "/bin"
    assert environ["SRS_DATA_DIR"] == str(tmp_path)
    assert environ["SRS_USERS"] == str(settings.users)  # the resolved value wins
    assert environ[MULTIPROC_VARIABLE] == "/m"


def test_server_command_binds_and_sizes_the_pool() -> None:
    command = server_command("127.0.0.1", 8123, workers=3, python="/py")
    assert command[:3] == ["/py", "-m", "granian"]
    assert command[command.index("--interface") + 1] == "wsgi"
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "8123"
    assert command[command.index("--workers") + 1] == "3"
    assert command[command.index("--blocking-threads") + 1] == str(DEFAULT_THREADS)
    assert "--factory" in command and command[-1] == APP_FACTORY


@pytest.mark.parametrize("threads", [1, 4])
def test_server_command_passes_the_thread_count(threads: int) -> None:
    command = server_command("::1", 8000, workers=2, threads=threads)
    assert command[command.index("--blocking-threads") + 1] == str(threads)
    assert command[command.index("--host") + 1] == "::1"


def test_server_command_refuses_an_empty_pool() -> None:
    with pytest.raises(ValueError, match="workers"):
        server_command("127.0.0.1", 8000, workers=0)


@pytest.mark.parametrize(("cores", "workers"), [(1, 2), (2, 2), (8, 8)])
def test_default_workers_fit_the_cores(cores: int, workers: int) -> None:
    assert default_workers(cores) == workers


def test_a_worker_freezes_its_start_up_objects_out_of_the_collector(
    data_settings: Settings,
) -> None:
    """In a fresh interpreter, as a server worker runs: the app answers, and what it loaded
    sits in the permanent generation, out of every full collection's walk."""
    probe = (
        "import gc, json\n"
        "from srs.web.serve import application\n"
        "app = application()\n"
        "frozen = gc.get_freeze_count()\n"
        "status = app.test_client().get('/readyz').status_code\n"
        "print(json.dumps({'frozen': frozen, 'status': status}))\n"
    )
    environ = {**os.environ, "SRS_DATA_DIR": str(data_settings.data_dir)}
    done = subprocess.run(
        [sys.executable, "-c", probe], env=environ, capture_output=True, text=True, check=True
    )
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["status"] == 200
    assert found["frozen"] > 10_000


def _run_in_own_session(command: list[str]) -> tuple[str, str, int]:
    """Run a server command that should stop at once; one that starts instead is stopped
    with all its workers, so a regression fails the test without leaving servers behind."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"{command[0]} started a server on a busy port")
    return stdout, stderr, process.returncode


def test_serve_refuses_a_port_another_server_listens_on(data_settings: Settings) -> None:
    """Granian's SO_REUSEPORT would let a second server share the port and split requests
    between two models; the real command must stop first, with one line."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        srs = Path(sys.executable).with_name("srs")
        stdout, stderr, status = _run_in_own_session(
            [str(srs), "--data-dir", str(data_settings.data_dir), "serve", "--port", str(port)]
        )
    assert status == 2
    assert stdout == ""
    assert stderr == f"error: port {port} on 127.0.0.1 is already in use\n"


def test_the_module_entry_point_refuses_a_busy_port_too() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        _, stderr, status = _run_in_own_session(
            [sys.executable, "-m", "srs.web.serve", "--port", str(port)]
        )
    assert status == 2
    assert stderr == f"error: port {port} on 127.0.0.1 is already in use\n"
