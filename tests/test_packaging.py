"""The deployment files stay true to the code: every command they run exists.

No Docker engine runs here, so docker-compose.yml is checked as far as it can
be without one: it parses, every service's command names a real entry point
of this package, and the dependency graph waits on healthy services.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from setuptools import find_packages

from poller.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_compose_has_every_role_with_healthy_dependencies() -> None:
    assert {"rabbitmq", "postgres", "api", "poll-worker", "download-worker", "scheduler"} <= set(
        SERVICES
    )
    assert SERVICES["rabbitmq"]["image"].endswith("-management")
    assert "127.0.0.1:15672:15672" in SERVICES["rabbitmq"]["ports"]
    for name in ("rabbitmq", "postgres", "api"):
        assert "healthcheck" in SERVICES[name], name
    for name in ("api", "poll-worker", "download-worker", "scheduler"):
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
        queues = command[command.index("--queues") + 1]
        assert queues in ("poll", "downloads")
    elif program == "periodiq":
        assert command[1:] == ["poller.actors"]
    elif program == "gunicorn":
        module, _, call = command[-1].partition(":")
        assert call == "create_app()"
        assert callable(importlib.import_module(module).create_app)
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
    assert out == ["poll", "downloads", "poll", "*", "*", "*", "*", "*"]


def test_the_wheel_ships_the_product_only_no_benchmark_or_tests() -> None:
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    packages = find_packages(ROOT, include=find["find"]["include"])
    assert "poller" in packages and "api" in packages
    assert not [p for p in packages if "bench" in p or p.split(".")[0] == "tests"], packages
    with pytest.raises(SystemExit):  # the benchmark is `python -m tests.bench`, not a command
        build_parser().parse_args(["bench", "all"])


def test_the_dockerfile_copies_what_exists() -> None:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
