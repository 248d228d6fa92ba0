"""Processes: `dramatiq` workers, waiting on them, and readings from /proc.

The integration and fault tests and the benchmark start real worker
processes the same way (`start_worker`). The bench shows where the CPU went
during a round (feed server, workers, RabbitMQ, the whole machine), so it
reads the kernel's counters directly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

BIN = Path(sys.executable).parent
DRAMATIQ = BIN / "dramatiq"
TUBEPOLLER = BIN / "tubepoller"
ROOT = Path(__file__).resolve().parents[2]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

T = TypeVar("T")


def cpu_seconds(pid: int) -> float:
    """Return user + system CPU seconds of a process (and its reaped children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # after the ")": state is field 3, utime 14, stime 15, cutime 16, cstime 17
    return sum(int(v) for v in fields[11:15]) / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    """Return a process's resident set size in MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def machine_busy() -> tuple[float, float]:
    """Return (busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def broker_pid() -> int | None:
    """Return the pid of a local RabbitMQ (beam.smp), if there is one."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "beam.smp":
                    return int(entry.name)
            except OSError:
                continue
    return None


def children(pid: int) -> list[int]:
    """Return the direct children of a process."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def cmdline(pid: int) -> str:
    """Return a process's command line, or "" once it has gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def stop(process: subprocess.Popen, timeout: float) -> None:
    """Terminate a child process; kill it if it outlives `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for(
    condition: Callable[[], T],
    timeout: float,
    what: str,
    *,
    check: Callable[[], object] | None = None,
    every: float = 0.1,
) -> T:
    """Return `condition()` once it is truthy; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if check is not None:
            check()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


@dataclass
class Worker:
    """One `dramatiq` command: its master and worker processes, and its log."""

    name: str
    queues: tuple[str, ...]
    proc: subprocess.Popen[bytes]
    log: Path
    killed: bool = False  # stopped on purpose: its death is no failure

    @property
    def pgid(self) -> int:
        return self.proc.pid  # started in a session of its own: the group leader

    def text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_ready(self, timeout: float = 30, processes: int = 1) -> None:
        """Wait until `processes` of its worker processes said they are ready."""
        wait_for(
            lambda: self.text().count("ready for action") >= processes,
            timeout,
            f"worker {self.name} to boot",
            check=self._check_running,
        )

    def _check_running(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(
                f"worker {self.name} exited with {self.proc.returncode}:\n{self.text()[-3000:]}"
            )

    def pids(self) -> list[int]:
        """The worker processes that run actors (not the master, not its helpers)."""
        return [
            pid
            for pid in children(self.proc.pid)
            if "resource_tracker" not in cmdline(pid) and "fork" not in cmdline(pid)
        ]

    def kill(self) -> None:
        """SIGKILL the whole process tree at once: master and worker processes."""
        self.killed = True
        _signal_group(self.pgid, signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> None:
        if self.alive():
            try:
                self.proc.send_signal(signal.SIGTERM)  # the master stops its workers
            except ProcessLookupError:
                pass

    def reap(self, timeout: float) -> None:
        """Wait for a clean stop, then SIGKILL whatever is left of the group."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(self.pgid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait(10)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def start_worker(
    name: str,
    queues: tuple[str, ...],
    *,
    env: Mapping[str, str],
    log: Path,
    modules: tuple[str, ...] = ("poller.actors",),
    processes: int = 1,
    threads: int = 4,
) -> Worker:
    """Start `dramatiq MODULES --queues …` from the repository root; do not wait for it."""
    # The venv's own `dramatiq` is the real entry point; without one, the same module.
    program = [str(DRAMATIQ)] if DRAMATIQ.exists() else [sys.executable, "-m", "dramatiq"]
    cmd = [
        *program, *modules,
        "--processes", str(processes), "--threads", str(threads),
        "--queues", *queues,
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killpg takes the tree
        )
    return Worker(name, queues, proc, log)
