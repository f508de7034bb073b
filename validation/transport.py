"""How a paradigm's program reaches the nodes: two transports behind one small interface.

Every paradigm's round is written once (validation.engines) as one program over all nodes. It
asks the transport three things:

- `here(node)`: does this process play `node`? (compute and data of a node run only where it
  is played);
- `compute(node, device, phase, alpha)`: time a block of work as `node`'s, on `device`'s
  timeline (the meter converts host CPU seconds to the node's speed);
- `move(tensors, src, dst, link, up, device, phase)`: tensors from `src` to `dst`. With a
  `link` (routes, i, share) the move is the plan's traffic and metered as such; without, it only
  serves the accuracy test and is not counted. Returns the tensors where `dst` (or `src`) is
  played, None elsewhere.

`Local` plays every node in this process: a move hands the tensors over and charges the
modelled link time. `Gloo` plays the nodes placed on its rank: a move between ranks is a real
send over torch.distributed; every rank runs the same program, and each acts on the moves it
takes part in, in the same order, so sends and receives pair up. The receiver meters a move
(its measured time on shaped links). After the round every rank's meter is gathered on rank 0.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import torch

from .meters import RoundMeter, tensor_bytes

HEADER = 10     # float64: send time, time the link could start (after the latency), ndim, dtype, tensors
#                 still to come in this move, then up to 5 dims
DTYPES = [torch.float32, torch.int64, torch.float64, torch.bool, torch.float16, torch.uint8, torch.int16, torch.int32]
# model.bytes_per_value -> the dtype the plan's traffic travels in (training stays float32)
WIRE_DTYPES = {2: torch.float16, 4: torch.float32, 8: torch.float64}


# model.label_bytes -> the dtype labels travel in (the loss takes them back as int64)
LABEL_DTYPES = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def wire_dtype(bytes_per_value: int) -> torch.dtype:
    return WIRE_DTYPES[int(bytes_per_value)]


def on_wire(tensors: list, dtype: torch.dtype) -> list:
    """Floating tensors in the wire's precision (labels and token indices as they are)."""
    return [t.to(dtype) if t is not None and t.is_floating_point() and t.dtype != dtype else t for t in tensors]


def off_wire(tensors: list) -> list:
    """Back to training's float32: a value that travelled at 2 bytes arrives rounded to them."""
    return [t.float() if t is not None and t.is_floating_point() and t.dtype != torch.float32 else t
            for t in tensors]


def _meter_move(meter: RoundMeter, link, tensors, up: bool, device: str, phase: str,
                seconds: float | None = None) -> None:
    """Record a move of the plan's traffic (a link given) on the meter."""
    if link is not None:
        R, i, share = link
        meter.send(R, i, tensor_bytes(*tensors), up, share, device, phase, seconds)


def _hand_over(meter: RoundMeter, wire: torch.dtype, tensors, link, up: bool, device: str, phase: str):
    """A move within one process: metered as it travels (the plan's traffic in the wire's dtype)
    and handed over as it would arrive (rounded to that dtype, back in float32)."""
    if link is not None and wire != torch.float32:
        sent = on_wire(tensors, wire)
        _meter_move(meter, link, sent, up, device, phase)
        return off_wire(sent)
    _meter_move(meter, link, tensors, up, device, phase)
    return tensors


class Local:
    """Every node in this process. With a wire dtype other than float32 (model.bytes_per_value)
    the plan's traffic is metered in it and handed over rounded to it, as Gloo delivers it."""

    def __init__(self, meter: RoundMeter, wire: torch.dtype = torch.float32):
        self.meter, self.wire_dtype = meter, wire

    def here(self, node: str) -> bool:
        return True

    def compute(self, node: str, device: str, phase: str, alpha: float = 1.0):
        return self.meter.compute(node, device, phase, alpha)

    def move(self, tensors, src, dst, link=None, up=True, device="", phase=""):
        return _hand_over(self.meter, self.wire_dtype, tensors, link, up, device, phase)


@dataclass
class Wire:
    """Sends and receives tensors, each with a header; counts payload and framing bytes. On
    shaped links the sender first sleeps the route's latency (no netem in this kernel)."""
    payload: int = 0
    framing: int = 0
    latency: dict | None = None

    def send(self, tensors: list, dst: int) -> None:
        import torch.distributed as dist
        sent = time.monotonic()
        if self.latency:
            time.sleep(self.latency.get(dst, 0.0))
        ready = time.monotonic()
        for k, t in enumerate(tensors):
            if t.dim() > HEADER - 5:
                raise ValueError(f"a {t.dim()}-d tensor does not fit the wire header (at most {HEADER - 5} dims)")
            h = torch.zeros(HEADER, dtype=torch.float64)
            h[0], h[1], h[2], h[3], h[4] = sent, ready, t.dim(), DTYPES.index(t.dtype), len(tensors) - 1 - k
            h[5:5 + t.dim()] = torch.tensor(t.shape, dtype=torch.float64)
            dist.send(h, dst)
            dist.send(t.detach().contiguous(), dst)
            self.payload += t.numel() * t.element_size()
            self.framing += h.numel() * h.element_size()

    def recv(self, src: int) -> tuple[list, float]:
        """(tensors, their transfer time): the sender's latency plus the time from when both ends
        were ready to the end of this receive. A message that waited for a busy receiver does
        not count that wait as link time: gloo moves the bytes only once the receive is posted."""
        import torch.distributed as dist
        posted = time.monotonic()
        out, more, first = [], 1, None
        while more:
            h = torch.zeros(HEADER, dtype=torch.float64)
            dist.recv(h, src)
            first = h if first is None else first
            t = torch.empty([int(x) for x in h[5:5 + int(h[2])].tolist()], dtype=DTYPES[int(h[3])])
            dist.recv(t, src)
            out.append(t)
            more = int(h[4])
        sent, ready = float(first[0]), float(first[1])
        return out, (ready - sent) + time.monotonic() - max(ready, posted)


class Gloo:
    """The nodes placed on this rank; the others reached over torch.distributed."""

    def __init__(self, meter: RoundMeter, rank: int, placement: dict[str, int], wire: Wire, evalwire: Wire,
                 shaped: bool = False, token=None, beat=None, rewarm=None, wire_dtype: torch.dtype = torch.float32):
        self.meter, self.rank, self.placement = meter, rank, placement
        self.wire_dtype = wire_dtype
        self.wire, self.evalwire, self.shaped = wire, evalwire, shaped
        self.token = token if token is not None else contextlib.nullcontext()
        self.beat = beat or (lambda: None)
        self.rewarm = rewarm or (lambda: None)

    def rank_of(self, node: str) -> int:
        return self.placement.get(node, 0)        # every node not placed elsewhere is the hub's

    def here(self, node: str) -> bool:
        return self.rank_of(node) == self.rank

    @contextlib.contextmanager
    def compute(self, node: str, device: str, phase: str, alpha: float = 1.0):
        """Timed while holding the host's token: nodes sharing this host's cores compute one at
        a time (CPU time of processes contending for 2 cores ran 15-20% above the work alone),
        its layers warmed again untimed first (validation.rewarm: the host's slower step after a
        wait)."""
        self.beat()
        with self.token:
            self.rewarm()
            with self.meter.compute(node, device, phase, alpha):
                yield

    def move(self, tensors, src, dst, link=None, up=True, device="", phase=""):
        a, b = self.rank_of(src), self.rank_of(dst)
        if a == b:                                # one process plays both ends: handed over
            return _hand_over(self.meter, self.wire_dtype, tensors, link, up, device, phase) if a == self.rank \
                else None
        rounded = link is not None and self.wire_dtype != torch.float32     # the plan's traffic, not float32
        wire = self.wire if link is not None else self.evalwire
        if self.rank in (a, b):
            self.beat()                           # alive up to here: a hang is blamed on its peer
        if a == self.rank:
            wire.send(on_wire(tensors, self.wire_dtype) if rounded else tensors, b)
            return tensors
        if b != self.rank:
            return None
        got, seconds = wire.recv(a)                # the receiver meters the move
        _meter_move(self.meter, link, got, up, device, phase, seconds if self.shaped else None)
        return off_wire(got) if rounded else got
