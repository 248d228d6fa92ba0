"""The deployment files stay true to the code: every command they run exists.

No Docker engine runs here, so docker-compose.yml is checked as far as it can
be without one: it parses, every service's command names a real entry point
of this package, and the dependency graph waits on healthy services.
"""

from __future__ import annotations

import importlib
import itertools
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import yaml
from setuptools import find_packages

from poller.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def queues_of(argv: list[str]) -> list[str]:
    """Return the queue names after `--queues` in a dramatiq command line."""
    rest = argv[argv.index("--queues") + 1 :]
    return list(itertools.takewhile(lambda arg: not arg.startswith("-"), rest))


def test_compose_has_every_role_with_healthy_dependencies() -> None:
    assert {
        "rabbitmq", "postgres", "api", "poll-worker", "download-worker", "notify-worker",
        "scheduler",
    } <= set(SERVICES)  # fmt: skip
    assert SERVICES["rabbitmq"]["image"].endswith("-management")
    assert "127.0.0.1:15672:15672" in SERVICES["rabbitmq"]["ports"]
    for name in ("rabbitmq", "postgres", "api"):
        assert "healthcheck" in SERVICES[name], name
    for name in ("api", "poll-worker", "download-worker", "notify-worker", "scheduler"):
        depends = SERVICES[name]["depends_on"]
        assert depends["rabbitmq"]["condition"] == "service_healthy"
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert SERVICES[name]["restart"] == "unless-stopped"


@pytest.mark.parametrize("name", sorted(n for n in SERVICES if "command" in SERVICES[n]))
def test_every_compose_command_exists_in_the_package(name: str) -> None:
    command = SERVICES[name]["command"]
    program = command[0]
    assert shutil.which(program) or Path(sys.executable).with_name(program).exists(), program
    if program == "tubepoller":
        build_parser().parse_args(command[1:])  # exits on an unknown command
    elif program == "dramatiq":
        assert command[1] == "poller.actors"
        assert set(queues_of(command)) in ({"poll", "tick"}, {"downloads"}, {"notify"})
    elif program == "periodiq":
        assert command[1:] == ["poller.actors"]
    elif program == "gunicorn":
        module, _, call = command[-1].partition(":")
        assert call == "create_asgi_app()"
        assert callable(importlib.import_module(module).create_asgi_app)
        for option in command[1:-1]:
            if option.startswith("--config=python:"):
                importlib.import_module(option.split(":", 1)[1])


def test_the_worker_entry_point_declares_the_actors_on_their_queues() -> None:
    # A fresh interpreter, as `dramatiq poller.actors` would start one.
    script = (
        "import poller.actors as a;"
        "print(a.poll_channel.queue_name, a.download_video.queue_name, a.tick.queue_name,"
        " a.tick.options['periodic'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    assert out == ["poll", "downloads", "tick", "*", "*", "*", "*", "*"]


def test_the_wheel_ships_the_product_only_no_benchmark_or_tests() -> None:
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    packages = find_packages(ROOT, include=find["find"]["include"])
    assert "poller" in packages and "api" in packages
    assert not [p for p in packages if "bench" in p or p.split(".")[0] == "tests"], packages
    with pytest.raises(SystemExit):  # the benchmark is `python -m tests.bench`, not a command
        build_parser().parse_args(["bench", "all"])


def test_the_wheel_ships_the_pages_templates_and_assets() -> None:
    # Outside a checkout (the image, a pip install) a file the package data
    # leaves out is missing: the status page would not render.
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["api"]
    api = ROOT / "api"
    files = [
        f.relative_to(api).as_posix()
        for folder in ("templates", "static")
        for f in (api / folder).rglob("*")
        if f.is_file()
    ]
    assert "templates/page.html" in files and "static/page.css" in files
    missing = [f for f in files if not any(Path(f).match(g) for g in globs)]
    assert not missing, missing


def test_the_dockerfile_copies_what_exists() -> None:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source


# --- the README's scale-out commands are the compose file's ------------------------------


def readme_scale_out() -> list[tuple[dict[str, str], list[str]]]:
    """Return each command of the README's scale-out block: (leading VAR=value, argv)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Scaling out", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        env = {}
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
            name, _, value = words.pop(0).partition("=")
            env[name] = value
        if words and not words[0] == "export":
            commands.append((env, words))
    return commands


def test_the_readme_runs_the_same_workers_as_compose() -> None:
    readme = {
        (tuple(argv), env.get("dramatiq_queue_prefetch"))
        for env, argv in readme_scale_out()
        if argv[0] == "dramatiq"
    }
    compose = {
        (tuple(service["command"]), service.get("environment", {}).get("dramatiq_queue_prefetch"))
        for service in SERVICES.values()
        if service.get("command", [""])[0] == "dramatiq"
    }
    assert readme == compose
    for argv, _ in readme:  # dramatiq starts one process per CPU when it is not told
        assert "--processes" in argv and "--threads" in argv, argv


# --- docker-compose config: the file as Compose itself reads it ---------------------------


def compose_config(**variables: str) -> dict:
    """Return `docker-compose config` of the compose file, with these variables set."""
    command = shutil.which("docker-compose")
    if command is None:
        message = "docker-compose is not installed (apt-get install docker-compose)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEPOLLER_")}
    done = subprocess.run(
        [command, "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"),
         "config"],
        capture_output=True, text=True, timeout=60, env={**env, **variables}, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def _host_ip(port: str | dict) -> str:
    if isinstance(port, dict):  # the long syntax newer Compose prints
        return str(port.get("host_ip", "0.0.0.0"))
    parts = str(port).split(":")
    return parts[0] if len(parts) == 3 else "0.0.0.0"


def _bind_sources(service: dict) -> dict[str, str]:
    """Return target → host path of the service's bind mounts."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                found[volume["target"]] = volume["source"]
        elif str(volume).startswith(("/", ".")):
            source, target = str(volume).split(":")[:2]
            found[target] = source
    return found


TUBEPOLLER_SERVICES = (
    "migrate", "api", "poll-worker", "download-worker", "notify-worker", "scheduler",
)  # fmt: skip


def test_compose_publishes_on_loopback_as_a_user_with_media_on_the_host() -> None:
    services = compose_config()["services"]
    assert [_host_ip(p) for p in services["api"]["ports"]] == ["127.0.0.1"]
    assert [_host_ip(p) for p in services["rabbitmq"]["ports"]] == ["127.0.0.1"]
    for name in TUBEPOLLER_SERVICES:
        user = str(services[name].get("user", "root"))
        assert user.split(":")[0] not in ("", "0", "root"), (name, user)
        assert _bind_sources(services[name]).get("/media") == str(ROOT / "media"), name


def test_compose_takes_the_address_user_and_media_path_it_is_given() -> None:
    services = compose_config(
        TUBEPOLLER_PUBLISH="0.0.0.0",
        TUBEPOLLER_MEDIA_PATH="/srv/media",
        TUBEPOLLER_UID="1234",
        TUBEPOLLER_GID="5678",
    )["services"]
    assert [_host_ip(p) for p in services["api"]["ports"]] == ["0.0.0.0"]
    for name in TUBEPOLLER_SERVICES:
        assert services[name]["user"] == "1234:5678"
        assert _bind_sources(services[name])["/media"] == "/srv/media"


# --- the image's default command serves the API beyond the container ----------------------


def dockerfile_env() -> dict[str, str]:
    env = {}
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("ENV "):
            env.update(word.split("=", 1) for word in shlex.split(line[4:]))
    return env


def test_the_image_runs_as_a_user_and_serves_on_every_interface(tmp_path: Path) -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    image_env = dockerfile_env()
    host, _, _ = image_env["TUBEPOLLER_API_BIND"].rpartition(":")
    assert host == "0.0.0.0"
    # The image's CMD with the image's bind address (on a free port, and a data
    # dir of this test's): it must listen on every interface, not on loopback.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEPOLLER_")}
    env.update(
        TUBEPOLLER_API_BIND=f"{host}:{port}",
        TUBEPOLLER_DATA_DIR=str(tmp_path / "data"),
        TUBEPOLLER_MEDIA_DIR=str(tmp_path / "media"),
    )
    command = shlex.split(re.search(r"^CMD (.*)$", "\n".join(lines), re.M)[1].replace(",", " "))
    command = [c.strip('[]"') for c in command]
    assert command == ["tubepoller", "up"]
    up = subprocess.Popen(
        [str(Path(sys.executable).with_name("tubepoller")), *command[1:]], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert up.poll() is None, up.communicate()[0]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        listening = subprocess.run(
            ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=False
        ).stdout
    finally:
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=30)
    assert f"API on http://0.0.0.0:{port}/api" in output, output
    if listening:  # ss is there: the kernel's own word on the bound address
        assert f"0.0.0.0:{port}" in listening, listening
