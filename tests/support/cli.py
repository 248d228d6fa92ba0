"""The `tubepoller` command as a user runs it: one-shot commands and a running `up`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

COMMAND = [sys.executable, "-m", "poller.cli"]


def run(
    env: dict[str, str], *args: str, check: bool = True, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run one `tubepoller` command; with `check`, fail the test on a non-zero exit."""
    result = subprocess.run(
        [*COMMAND, *args], env=env, capture_output=True, text=True, timeout=60, cwd=cwd
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}: {result.stderr}")
    return result


def run_into(stdout: int, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run one `tubepoller` command writing to the file descriptor `stdout`."""
    return subprocess.run(
        [*COMMAND, *args], env=env, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=60
    )


def cli_env(data_dir: Path, youtube_url: str) -> dict[str, str]:
    """Return this process's environment without TUBEPOLLER_*, plus a test's own settings."""
    values = {k: v for k, v in os.environ.items() if not k.startswith("TUBEPOLLER_")}
    values.update(
        TUBEPOLLER_DATA_DIR=str(data_dir),
        TUBEPOLLER_YOUTUBE_URL=youtube_url,
        TUBEPOLLER_ALLOW_PRIVATE_NETWORKS="1",
        TUBEPOLLER_API_BIND="127.0.0.1:0",
    )
    return values


@dataclass
class Up:
    """A running `tubepoller up` and the lines it has logged so far."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        """Return the first match of `pattern` in the log; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output())
            if found:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} in the output of up:\n{self.output()}")


@contextmanager
def running_up(env: dict[str, str], *args: str) -> Iterator[Up]:
    """Run `tubepoller up` for the duration of the block, then stop it with Ctrl-C."""
    process = subprocess.Popen(
        [*COMMAND, "up", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    up = Up(process)
    reader = threading.Thread(
        target=lambda: up.lines.extend(line.rstrip("\n") for line in process.stdout or ()),
        daemon=True,
    )
    reader.start()
    try:
        yield up
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=5)
