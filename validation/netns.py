"""Shaped links for the distributed executor (root only): each device process in its own network
namespace, joined to the host by a veth pair whose two ends are rate-limited with `tc tbf` to the
plan's allocated uplink and downlink rates (dsgd, which has no hub: every node in a namespace, each
pair of consecutive nodes shaped both ways with `tc htb`, `ShapedNetwork.for_pairs`). Latency is added in the application (this kernel has
no netem): the sender sleeps the route's latency before each message.

The server stays in the host namespace; the host routes between the device subnets, so gloo's
full mesh connects. Namespaces and their veths are removed on close.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from dataclasses import dataclass, field

import numpy as np

CLONE_NEWNET = 0x40000000


def available() -> tuple[bool, str]:
    """(whether shaped links can be made here, why not)."""
    if os.geteuid() != 0:
        return False, "needs root (network namespaces and tc)"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return False, f"'{tool}' is not installed (Debian: iproute2)"
    name = f"epchk{os.getpid() % 100000}"
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if r.returncode != 0:
        return False, f"cannot create a network namespace: {r.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return True, ""


def enter(ns: str) -> None:
    """Move this process (its main thread, before it opens sockets) into network namespace ns."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {ns} failed")
    finally:
        os.close(fd)


def _sh(*cmd: str) -> None:
    r = subprocess.run(list(cmd), capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")


def _tbf(dev: str, rate_bps: float, ns: str | None = None) -> None:
    burst = int(max(4 * 1540, rate_bps / 8 / 500))       # 2 ms at rate
    cmd = ["tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", f"{int(max(rate_bps, 8000))}bit",
           "burst", str(burst), "latency", "2s"]
    _sh(*(["ip", "netns", "exec", ns] + cmd if ns else cmd))


def _ip(rank: int) -> str:
    """A rank's address when every rank has a namespace (ShapedNetwork.for_pairs)."""
    return f"10.123.{rank + 1}.2"


def _link(net, k: int, ns: str, h: str, n: str) -> None:
    """Namespace ns joined to the host by veth h (host end, 10.123.k.1) - n (10.123.k.2), routed
    through the host."""
    _sh("ip", "netns", "add", ns)
    net.namespaces.append(ns)
    _sh("ip", "link", "add", h, "type", "veth", "peer", "name", n)
    net.host_ifs.append(h)
    net.ns_ifs.append(n)
    _sh("ip", "link", "set", n, "netns", ns)
    _sh("ip", "addr", "add", f"10.123.{k}.1/24", "dev", h)
    _sh("ip", "link", "set", h, "up")
    _sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"10.123.{k}.2/24", "dev", n)
    _sh("ip", "netns", "exec", ns, "ip", "link", "set", n, "up")
    _sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
    _sh("ip", "netns", "exec", ns, "ip", "route", "add", "default", "via", f"10.123.{k}.1")


def _htb(dev: str, ns: str, rates: dict[str, float]) -> None:
    """On dev (in ns): traffic to each address at its own rate, the rest unlimited."""
    ex = ["ip", "netns", "exec", ns]
    _sh(*ex, "tc", "qdisc", "replace", "dev", dev, "root", "handle", "1:", "htb", "default", "1")
    _sh(*ex, "tc", "class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb", "rate", "10gbit")
    for i, (ip, bps) in enumerate(sorted(rates.items()), start=10):
        # 0.1 ms at rate: dsgd's messages are a micro-batch's activations, often under 2 ms of
        # traffic, which a bucket of 2 ms (as _tbf's, for whole models) let through at line rate
        burst = str(int(max(2 * 1540, bps / 8 / 10000)))
        bits = f"{int(max(bps, 8000))}bit"
        _sh(*ex, "tc", "class", "add", "dev", dev, "parent", "1:", "classid", f"1:{i}", "htb", "rate", bits,
            "ceil", bits, "burst", burst, "cburst", burst)
        _sh(*ex, "tc", "filter", "add", "dev", dev, "parent", "1:", "protocol", "ip", "prio", "1", "u32",
            "match", "ip", "dst", f"{ip}/32", "flowid", f"1:{i}")


@dataclass
class ShapedNetwork:
    hub: bool                           # rank 0 in the host namespace (a server and its devices); else every rank in one
    latency: list[dict[int, float]]     # each rank's latency to each peer, slept by the sender before a message
    port: int
    namespaces: list[str] = field(default_factory=list)
    host_ifs: list[str] = field(default_factory=list)
    ns_ifs: list[str] = field(default_factory=list)
    closed: bool = field(default=False)

    @classmethod
    def _start(cls, hub: bool, world: int) -> ShapedNetwork:
        ok, why = available()
        if not ok:
            from edgeplan.errors import PlanError
            raise PlanError(f"--shaped {why}")
        _sh("sysctl", "-qw", "net.ipv4.ip_forward=1")
        return cls(hub, [{} for _ in range(world)], 29500 + os.getpid() % 1000)

    def _namespace(self, k: int) -> tuple[str, str, str]:
        """The k-th namespace joined to the host: (namespace, host end, namespace end)."""
        tag = f"{os.getpid() % 10000}"
        ns, h, n = f"ep{tag}d{k}", f"ep{tag}h{k}", f"ep{tag}n{k}"
        _link(self, k, ns, h, n)
        return ns, h, n

    @classmethod
    def for_plan(cls, cm, plan, decisions) -> ShapedNetwork:
        """Each device in a namespace, its link limited with tbf to its allocated rates (the
        server, rank 0, in the host namespace)."""
        devs = list(decisions["devices"])
        srv = decisions.get("server") or decisions.get("trunk")      # fpl's trunk node serves its devices
        servers = srv if isinstance(srv, list) else [srv] * len(devs)
        concurrent = plan.paradigm != "sl"
        R = cm.routes(devs, servers, concurrent=concurrent)
        n = len(devs)
        up_share = decisions.get("share", decisions.get("share_up"))
        dn_share = decisions.get("share_dn") if decisions.get("share_dn") is not None else up_share
        share = np.ones(n) if plan.paradigm == "sl" or up_share is None else np.asarray(up_share, float)
        share_dn = np.ones(n) if plan.paradigm == "sl" or dn_share is None else np.asarray(dn_share, float)
        net = cls._start(True, n + 1)
        try:
            for k in range(1, n + 1):
                ns, h, n_if = net._namespace(k)
                i = k - 1
                with np.errstate(divide="ignore"):
                    up = 1.0 / float(R.per_bit(share, True)[i])
                    dn = 1.0 / float(R.per_bit(share_dn, False)[i])
                up, dn = (x if np.isfinite(x) and x > 0 else 8000.0 for x in (up, dn))   # share 0: a trickle
                _tbf(n_if, up, ns)          # device -> server
                _tbf(h, dn)                 # server -> device
                net.latency[0][k] = net.latency[k][0] = float(R.lat[i])
        except Exception:
            net.close()
            raise
        return net

    @classmethod
    def for_pairs(cls, cm, ranks: dict[str, int], hops: list[tuple[str, str, list[str]]]) -> ShapedNetwork:
        """Every rank in a namespace of its own (dsgd: no hub; the host only routes), each pair
        of `hops` (sender forward, receiver forward, path segment) shaped both ways at the rates
        of its route along the segment: on the sender's interface an htb class per peer, chosen
        by the peer's address (a stage in the middle sends forward and back at two rates). Other
        traffic (the accuracy test, gloo's rendezvous) is not limited."""
        world = 1 + max(ranks.values())
        net = cls._start(False, world)
        rate = [{} for _ in range(world)]                   # sender rank -> {receiver rank: bit/s}
        for a, b, seg in hops:
            R = cm.routes([a], [b], concurrent=False, via=[seg])
            for (x, y), fwd in (((a, b), True), ((b, a), False)):
                per_bit = float(R.per_bit(np.ones(1), fwd)[0])
                if per_bit > 0:               # 0: a hop without a rate limit, left unlimited
                    rate[ranks[x]][ranks[y]] = 1.0 / per_bit if np.isfinite(per_bit) else 8000.0   # inf: a trickle
                net.latency[ranks[x]][ranks[y]] = float(R.lat[0])
        try:
            for r in range(world):
                ns, _, n_if = net._namespace(r + 1)
                _htb(n_if, ns, {_ip(peer): bps for peer, bps in rate[r].items()})
        except Exception:
            net.close()
            raise
        return net

    def config(self) -> dict:
        """What the node processes need: where to connect, their namespace and interface, and
        their latency to each peer."""
        if self.hub:
            return {"init": f"tcp://10.123.1.1:{self.port}", "netns": [None] + self.namespaces,
                    "ifname": [self.host_ifs[0]] + self.ns_ifs, "latency": self.latency}
        return {"init": f"tcp://{_ip(0)}:{self.port}", "netns": list(self.namespaces), "ifname": list(self.ns_ifs),
                "latency": self.latency}

    def close(self) -> None:
        if self.closed:
            return
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        for h in self.host_ifs:
            subprocess.run(["ip", "link", "del", h], capture_output=True)
        self.closed = True
