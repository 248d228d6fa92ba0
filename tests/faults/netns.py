"""Worker "hosts" in network namespaces, joined to the root namespace by a veth pair each.

Each host is `ip netns add` plus a veth pair on a /30 of its own inside
FLEET_NET (10.213.0.0/16 unless TUBEPOLLER_TEST_FLEET_NET says otherwise):
the root side is .1, the namespace side .2. Nothing routes these subnets
anywhere; traffic only flows between a namespace and the root namespace.
The test cuts a host by taking its root-side veth down (packets vanish, no
connection is closed) or by dropping one port inside the namespace.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import shutil
import signal
import subprocess
from dataclasses import dataclass

# The addresses the fleet tests create: allowlist this network in any guard.
FLEET_NET = ipaddress.ip_network(os.environ.get("TUBEPOLLER_TEST_FLEET_NET", "10.213.0.0/16"))


def unavailable() -> str | None:
    """Return why network namespaces cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None or shutil.which("iptables") is None:
        return "iproute2 or iptables is not installed"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"`ip netns` does not work: {probe.stderr.strip()}"
    return None


def _run(*argv: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")


def _used_addresses() -> str:
    return (
        subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True, check=True).stdout
        + subprocess.run(["ip", "route"], capture_output=True, text=True, check=True).stdout
    )


@dataclass
class Host:
    """One namespace and its veth pair."""

    name: str  # the namespace
    index: int
    root_if: str
    ns_if: str
    root_addr: str  # where the host reaches the forwarder
    ns_addr: str

    @classmethod
    def create(cls, tag: str, index: int) -> Host:
        """Make namespace `tp-TAG-INDEX` on a free /30 of FLEET_NET, picked at random.

        At random: two test sessions on one machine (two checkouts) must not
        pick the same subnet.
        """
        subnets = list(FLEET_NET.subnets(new_prefix=30))
        used = _used_addresses()
        for subnet in random.sample(subnets, min(len(subnets), 50)):
            root_addr, ns_addr = (str(a) for a in list(subnet.hosts())[:2])
            if f"{root_addr}/" not in used and f"{subnet.network_address}/" not in used:
                break
        else:
            raise RuntimeError(f"no free /30 left in {FLEET_NET}")
        host = cls(f"tp-{tag}-{index}", index, f"tp{tag}{index}r", f"tp{tag}{index}n",
                   root_addr, ns_addr)  # fmt: skip
        _run("ip", "netns", "add", host.name)
        try:
            _run("ip", "link", "add", host.root_if, "type", "veth", "peer", "name", host.ns_if)
            _run("ip", "link", "set", host.ns_if, "netns", host.name)
            _run("ip", "addr", "add", f"{root_addr}/30", "dev", host.root_if)
            _run("ip", "link", "set", host.root_if, "up")
            host.exec("ip", "addr", "add", f"{ns_addr}/30", "dev", host.ns_if)
            host.exec("ip", "link", "set", host.ns_if, "up")
            host.exec("ip", "link", "set", "lo", "up")
        except Exception:
            host.remove()
            raise
        return host

    def prefix(self) -> list[str]:
        """The argv prefix that runs a command inside this host."""
        return ["ip", "netns", "exec", self.name]

    def exec(self, *argv: str) -> None:
        _run(*self.prefix(), *argv)

    def cut(self) -> None:
        """Take the root-side veth down: every packet to and from the host vanishes."""
        _run("ip", "link", "set", self.root_if, "down")

    def restore(self) -> None:
        _run("ip", "link", "set", self.root_if, "up")

    def block_port(self, port: int) -> None:
        """Drop, inside the host, every packet to and from `port` on its root-side address."""
        for chain, side in (("OUTPUT", "--dport"), ("INPUT", "--sport")):
            self.exec("iptables", "-I", chain, "-p", "tcp", side, str(port), "-j", "DROP")

    def unblock_port(self, port: int) -> None:
        for chain, side in (("OUTPUT", "--dport"), ("INPUT", "--sport")):
            self.exec("iptables", "-D", chain, "-p", "tcp", side, str(port), "-j", "DROP")

    def remove(self) -> None:
        """Kill what still runs inside, delete the veth pair and the namespace.

        Fine if they are half made or gone. Only this test's processes can
        be inside: the namespace is its own.
        """
        pids = subprocess.run(
            ["ip", "netns", "pids", self.name], capture_output=True, text=True, check=False
        ).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "link", "del", self.root_if], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)
