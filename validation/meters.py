"""Metering a training round: compute time per node (measured here, converted to the node's
speed), bytes on the wire (counted from the tensors that cross), transfer times from those
bytes at the allocated rates, energy from the measured times and the scenario's powers.

Compute is timed in thread CPU time (one torch thread), so a busy machine does not inflate it.
Conversion: this host's training FLOP/s is calibrated at start (the whole model, forward and
backward on a training batch, median of repeats, one thread); a part that took t seconds here
takes t * host_rate / rate(node) on the node, rate(node) being its FLOP/s (or its effective
FLOP/s from measured times).
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from edgeplan.costs import CostModel


def cpu_clock() -> float:
    """This thread's CPU time: compute is timed by the work done, not the wall clock, so another
    process holding a core (2 shared cores here) does not inflate it. Torch runs one thread."""
    return time.thread_time()


def tensor_bytes(*tensors) -> int:
    return int(sum(t.numel() * t.element_size() for t in tensors if t is not None))


def calibrate_host(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, flops_per_sample: float,
                   repeats: int = 7, make_opt=None, budget_s: float = 0.3) -> float:
    """This host's training FLOP/s on this model: a whole training step (forward, loss, backward,
    optimizer step) on one batch, the median of at least `repeats` steps after a warm-up, and of
    as many as fit in `budget_s` (a small model's step takes milliseconds, and nine of them
    scattered by 20% between calls on this shared machine)."""
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = make_opt(model.parameters()) if make_opt else torch.optim.SGD(model.parameters(), lr=1e-9, momentum=0.9)
    times = []
    end = time.perf_counter() + budget_s
    while len(times) < repeats + 2 or (time.perf_counter() < end and len(times) < 1000):
        t0 = cpu_clock()
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
        times.append(cpu_clock() - t0)
    return flops_per_sample * len(x) / statistics.median(times[2:])


@dataclass
class Event:
    node: str
    device: str           # the device on whose behalf (its timeline); "" for shared work
    phase: str            # device | uplink | server | downlink | sync | stage | ...
    seconds: float        # on the node (compute converted; transfers at the allocated rate)
    nbytes: int = 0
    host_s: float = 0.0   # compute measured here


@dataclass
class RoundMeter:
    """Collects one round's events and what crosses the wire."""
    cm: CostModel
    host_rate: float
    events: list[Event] = field(default_factory=list)
    busy: dict[str, float] = field(default_factory=dict)       # node -> compute seconds (real, on node)
    wire: dict[tuple, list] = field(default_factory=dict)   # route -> [routes, i, up bytes, down bytes, share]

    def ratio(self, node: str) -> float:
        return self.host_rate / self.cm.flops_rate(self.cm.idx[node])

    @contextmanager
    def compute(self, node: str, device: str, phase: str, share: float = 1.0):
        """Time the block on this host; record it as node time (divided by the node share)."""
        t0 = cpu_clock()
        yield
        host = cpu_clock() - t0
        on_node = host * self.ratio(node)
        self.busy[node] = self.busy.get(node, 0.0) + on_node
        self.events.append(Event(node, device, phase, on_node / share, 0, host))

    def send(self, routes, i: int, nbytes: int, up: bool, share: float, device: str, phase: str,
             seconds: float | None = None) -> float:
        """A message of nbytes along route i (up: towards its destination); returns its time:
        at the allocated rate, or `seconds` when the transfer was timed on a shaped link."""
        t = routes.time_one(i, nbytes, share, up) if seconds is None else float(seconds)
        key = (routes.src[i], routes.dst[i], len(routes.src), i)   # the same in every process
        if key not in self.wire:
            self.wire[key] = [routes, i, 0.0, 0.0, share]
        self.wire[key][2 if up else 3] += nbytes
        node = routes.src[i] if up else routes.dst[i]
        self.events.append(Event(node, device, phase, t, nbytes))
        return t

    def merge(self, events: list, busy: dict, wire: dict) -> None:
        """Add what another process metered in the same round (the distributed executor)."""
        self.events += events
        for node, s in busy.items():
            self.busy[node] = self.busy.get(node, 0.0) + s
        for key, (routes, i, up, dn, share) in wire.items():
            mine = self.wire.setdefault(key, [routes, i, 0.0, 0.0, share])
            mine[2] += up
            mine[3] += dn

    def device_time(self, device: str) -> float:
        return sum(e.seconds for e in self.events if e.device == device)

    def phases(self, devices: list[str]) -> dict[str, np.ndarray]:
        names = list(dict.fromkeys(e.phase for e in self.events))
        out = {p: np.zeros(len(devices)) for p in names}
        pos = {d: k for k, d in enumerate(devices)}
        for e in self.events:
            if e.device in pos:
                out[e.phase][pos[e.device]] += e.seconds
        return out

    def costs(self, paradigm: str, devices: list[str], T: float, memory: dict | None = None):
        """The round's measured costs, through the cost model's own energy and bytes ledger."""
        per_dev = np.array([self.device_time(d) for d in devices])
        transfers = [(r, i, up, dn, share) for (r, i, up, dn, share) in self.wire.values()]
        return self.cm.finish(paradigm, T, devices, per_dev, self.phases(devices), dict(self.busy), transfers,
                              memory or {})
