"""The feed server in a process of its own, steered over HTTP.

Its CPU time is read from /proc so the report can show it was not the
bottleneck.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
import urllib.request
from typing import Any

from tests.support import procs


class FeedProcess:
    """The feed server (`python -m tests.support.feedserver`) and its remote control."""

    def __init__(self, channels: int, uploads: int, latency: float, validators: bool) -> None:
        command = [
            sys.executable,
            "-m",
            "tests.support.feedserver",
            "--channels",
            str(channels),
            "--uploads",
            str(uploads),
            "--latency",
            str(latency),
        ]
        if not validators:
            command.append("--no-validators")
        self.process = subprocess.Popen(command, cwd=procs.ROOT, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline().strip() if self.process.stdout else ""
        if not line.startswith("http://"):
            self.process.kill()
            raise RuntimeError(f"the feed server did not start (said {line!r})")
        self.base = line
        self.pid = self.process.pid

    def control(self, command: str, body: bytes = b"", **query: Any) -> dict:
        """POST a command to the server's `/_bench/` endpoint; return its answer."""
        url = f"{self.base}/_bench/{command}?{urllib.parse.urlencode(query)}"
        request = urllib.request.Request(url, data=body, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (loopback)
            return json.loads(response.read())

    def cpu(self) -> float:
        """CPU seconds of the feed server so far."""
        return procs.cpu_seconds(self.pid)

    def stop(self) -> None:
        procs.stop(self.process, 5)
