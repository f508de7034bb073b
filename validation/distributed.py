"""The distributed executor: one process per node, tensors really sent over torch.distributed.

Ranks: 0 is the server (for fpl the trunk node; it also aggregates, meters and checkpoints),
1..N the plan's devices in order. For dsgd, rank 0 is the device holding the data and ranks
1..K the other nodes holding stages, in path order: micro-batches flow forward stage to stage
and gradients back (GPipe order). Each process rebuilds the same job (scenario, plan, data,
seed) and its own part of the model, so the run is the in-process run, split across processes.

Every tensor goes as a small header (the sender's send time, the shape) and a payload. Payload
bytes are what the cost model predicts; headers are framing (counted apart). Compute is timed in
each process (one torch thread) and converted to the node's speed as in-process. Transfer times
come from the payload bytes at the plan's rates, or, on shaped links (`shaped=True`: each device
in its own network namespace behind a `tc` rate limit equal to its allocated rate), from the
header's send time to the end of the receive.

Faults: the parent watches every process; one that exits, or a round that makes no progress for
`timeout` seconds, ends the run with an error naming the node; the rounds finished before are on
disk (checkpoint after every round), and a run resumes from them.

Across real machines the same code runs under torchrun: set MASTER_ADDR/MASTER_PORT, RANK and
WORLD_SIZE and start `python -m validation.distributed JOB.json` on each machine (see README).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue as queue_mod
import socket
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from edgeplan.models.profile import one_torch_thread
from torch import nn

from .meters import cpu_clock

SUPPORTED = ("fl", "sl", "psl", "fpl", "pel", "dsgd")
HEADER = 8   # float64 values: send time, time the link could start (after the latency), ndim, up to 5 dims


class WorkerFailed(RuntimeError):
    """A node's process died or hung; the message names it."""


@dataclass
class Wire:
    """Sends and receives tensors with a header; counts payload and framing bytes. On shaped
    links the sender first sleeps the route's latency (no netem in this kernel)."""
    payload: int = 0
    framing: int = 0
    latency: dict | None = None

    def send(self, t: torch.Tensor, dst: int) -> None:
        h = torch.zeros(HEADER, dtype=torch.float64)
        h[0] = time.monotonic()
        if self.latency:
            time.sleep(self.latency.get(dst, 0.0))
        h[1] = time.monotonic()
        if t.dim() > HEADER - 3:
            raise ValueError(f"a {t.dim()}-d tensor does not fit the wire header (at most {HEADER - 3} dims)")
        h[2] = t.dim()
        h[3:3 + t.dim()] = torch.tensor(t.shape, dtype=torch.float64)
        dist.send(h, dst)
        dist.send(t.contiguous(), dst)
        self.payload += t.numel() * t.element_size()
        self.framing += h.numel() * h.element_size()

    def recv(self, src: int, dtype=torch.float32) -> tuple[torch.Tensor, float]:
        """(tensor, its transfer time): the sender's latency plus the time from when both ends
        were ready to the end of this receive. A message that waited for a busy receiver (the
        single server process serves devices in turn, where the cost model's server runs them in
        parallel on shares) does not count that wait as link time: gloo moves the bytes only
        once the receive is posted."""
        posted = time.monotonic()
        h = torch.zeros(HEADER, dtype=torch.float64)
        dist.recv(h, src)
        shape = [int(x) for x in h[3:3 + int(h[2])].tolist()]
        t = torch.empty(shape, dtype=dtype)
        dist.recv(t, src)
        sent, ready = float(h[0]), float(h[1])
        return t, (ready - sent) + time.monotonic() - max(ready, posted)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- per-process programs

def _node(rank: int, world: int, cfg: dict, q, token=None) -> None:
    """Entry point of every node process. `token`: a lock shared by processes on one host, held
    while a node computes, so nodes that share this host's cores are timed one at a time (CPU
    time of processes contending for 2 cores ran 15-20% above the same work alone)."""
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _die_with_parent(cfg.get("parent"))
    try:
        if cfg.get("netns") and cfg["netns"][rank]:
            from .netns import enter
            enter(cfg["netns"][rank])          # before any socket: gloo's threads inherit it
        if cfg.get("ifname"):
            os.environ["GLOO_SOCKET_IFNAME"] = cfg["ifname"][rank]
        # gloo waits longer than the parent, so the parent names a hung node before gloo gives up
        dist.init_process_group("gloo", rank=rank, world_size=world, init_method=cfg["init"],
                                timeout=timedelta(seconds=3 * cfg["timeout"]))
        prog = _Program(rank, cfg, q, token)
        prog.run()
        dist.barrier()
        dist.destroy_process_group()
    except Exception as e:  # report and exit non-zero: the parent names this node
        q.put(("error", rank, f"{type(e).__name__}: {e}", traceback.format_exc()))
        sys.exit(1)


def _die_with_parent(parent: int | None) -> None:
    """A node process ends when its launcher does, however the launcher ends (SIGKILL included):
    the kernel sends it SIGKILL (Linux prctl PR_SET_PDEATHSIG), and a launcher already gone by
    then is noticed at once. Orphans would train on and overwrite the checkpoints a resume needs."""
    if parent is None:
        return
    try:
        import ctypes
        import signal as sig
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(sig.SIGKILL))   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)


class _Program:
    def __init__(self, rank: int, cfg: dict, q, token=None):
        from edgeplan.planfile import Plan
        from edgeplan.scenario import load_scenario

        from .engines import ENGINES
        from .runner import make_job

        self.rank, self.cfg, self.q = rank, cfg, q
        self.token = token if token is not None else contextlib.nullcontext()
        self.scn = load_scenario(cfg["scenario"])
        self.plan = Plan.from_dict(cfg["plan"])
        self.job, self.cm, _ = make_job(self.scn, self.plan, cfg["seed"])
        self.engine = ENGINES[self.plan.paradigm](self.job)   # the same initial parts everywhere
        lat = cfg.get("latency")
        if lat:   # a device's messages to the server, and the server's to each device
            self.wire = Wire(latency={0: lat[rank]} if rank else {k: v for k, v in enumerate(lat) if k})
        else:
            self.wire = Wire()
        self.evalwire = Wire()    # what only the accuracy test needs (not part of the plan's traffic)
        self.out = Path(cfg["out"]) if cfg.get("out") else None
        self.kill = cfg.get("kill")   # fault injection for tests: {"rank": r, "round": k}
        self.losses: list[float] = []  # training losses computed on this node in the round (fl, pel devices)

    def beat(self, r: int) -> None:
        """Tell the parent this node is alive and where it is."""
        self.q.put(("beat", self.rank, r + 1))

    # -- state of this process, saved each round (resume)
    def _state_path(self) -> Path:
        return self.out / f"rank{self.rank}.pt"

    def _save(self, r: int) -> None:
        """This node's state after round r; the state before it stays beside it, so a resume can
        go back one round to where every node and the launcher's record agree."""
        if self.out is None:
            return
        from .runner import save_checkpoint
        cur = self._state_path()
        if cur.exists():
            os.replace(cur, _previous(cur))
        save_checkpoint(cur, {"round": r, "plan": self.plan.to_dict(), "engine": self.engine.state(),
                              "shards": {d: s.state() for d, s in self.job.shards.items()}})

    def _load(self) -> int:
        target = self.cfg.get("resume_round")
        if self.out is None or not target:
            return 0
        from .runner import load_checkpoint
        for path in (self._state_path(), _previous(self._state_path())):
            if path.exists():
                st = load_checkpoint(path)
                if int(st["round"]) == target:
                    self.engine.load(st["engine"])
                    for d, s in st["shards"].items():
                        self.job.shards[d].load(s)
                    return target
        raise RuntimeError(f"no state of round {target} in {self._state_path()} (checked by the launcher first)")

    def _warm_up(self) -> None:
        """Untimed training steps of a throwaway copy of the whole model, which also calibrate
        this process: the first call of each kernel in a fresh process (allocator, oneDNN
        primitives) must not land in round 1. The random state is left as it was, so training
        is unchanged."""
        from .runner import _calibrate
        with torch.random.fork_rng(), self.token:
            own = _calibrate(self.job, self.cm)
        # this process's CPU seconds in the launcher's calibrated seconds: processes on one host
        # ran 20-30% apart in speed from the launcher (placement, caches), so each calibrates
        self.speed = own / float(self.cfg["host_rate"])

    def run(self):
        self._warm_up()
        t = torch.tensor([self._load()])
        dist.all_reduce(t, op=dist.ReduceOp.MIN)      # every node resumes from the same round
        start = int(t)
        rounds = self.cfg["rounds"]
        for r in range(start, rounds):
            self.beat(r)
            if self.kill and self.kill["rank"] == self.rank and self.kill["round"] == r + 1:
                if self.kill.get("hang"):
                    time.sleep(10 ** 6)                # a worker hangs mid-run
                os._exit(17)                           # a worker dies mid-run
            if self.plan.paradigm == "dsgd":
                self._pipeline_round(r)
            elif self.rank == 0:
                self._server_round(r)
            else:
                self._device_round(r)
            self._save(r + 1)

    # -- devices
    def _device_round(self, r: int):
        e, i = self.engine, self.rank - 1
        par = self.plan.paradigm
        compute = 0.0
        dev = e.devices[i]
        self.down_s, self.sync_down_s = 0.0, 0.0
        e.begin_round()
        if par == "sl":
            from .partition import pack_client, unpack_client
            tau, n = self.cm.tau, len(e.devices)
            if n > 1 and (i > 0 or r > 0):   # the client part (weights, optimizer state) from the previous device
                vec, t = self.wire.recv(0)
                unpack_client(e.head, e.opt_head, vec, (r * n + i) * tau)
                self.sync_down_s += t
            for _ in range(tau):
                compute += self._device_step(dev, e.head, e.opt_head, split=True)
            # handed on; a lone device keeps it (the server only needs it to test accuracy)
            self.wire.send(pack_client(e.head, e.opt_head), 0) if n > 1 else \
                self.evalwire.send(pack_client(e.head, e.opt_head), 0)
        elif par == "pel":
            gi = next(g for g, m in enumerate(e.groups) if i in m)
            blocks = e.blocks()
            if e.holds(gi):                        # a worker without a block sits the round out
                vec, self.down_s = self.wire.recv(0)
                self.q.put(("beat", self.rank, None))
                with self.token:
                    t0 = cpu_clock()
                    update, ls = e.work(i, vec, blocks[gi])
                    compute = cpu_clock() - t0
                self.losses += ls
                self.wire.send(update, 0)
            e.round_no += 1
        elif par == "fpl":
            branch = nn.Sequential(*e.fm.branches[i])
            for _ in range(self.cm.tau):
                compute += self._device_step(dev, branch, e.opt_branch[i], split=True, has_head=e.j > 0)
            if e.groups.count(e.groups[i]) > 1:      # branch averaging inside the group, via the trunk
                self._send_params(branch, 0)
                self.sync_down_s += self._recv_head(branch)
            else:   # a group of one has nothing to average; the trunk only needs it to test accuracy
                self._send_params(branch, 0, self.evalwire)
        else:
            head = e.rep.head(i)
            full = e.cuts[i] == self.cm.L
            for _ in range(self.cm.tau):
                compute += self._device_step(dev, head, e.opt_dev[i], split=not full, has_head=e.cuts[i] > 0)
            if len(e.devices) > 1:                   # averaged with the others
                self._send_params(head, 0)
                self.sync_down_s += self._recv_head(head)
            else:                                    # nobody to average with: only for the accuracy test
                self._send_params(head, 0, self.evalwire)
        dist.send(torch.tensor([compute * self.speed, self.wire.payload, self.wire.framing, self.down_s, self.sync_down_s,
                                float(np.sum(self.losses)), float(len(self.losses))], dtype=torch.float64), 0)
        self.losses = []
        self.wire.payload = self.wire.framing = 0

    def _device_step(self, dev: str, head, opt, split: bool, has_head: bool = True) -> float:
        from .engines import LOSS
        self.q.put(("beat", self.rank, None))
        x, y = self.job.shards[dev].next(self.job.batch(dev))
        if not split:
            with self.token:
                t0 = cpu_clock()
                opt.zero_grad(set_to_none=True)
                loss = LOSS(head(x), y)
                loss.backward()
                opt.step()
                spent = cpu_clock() - t0
            self.losses.append(float(loss.detach()))     # fl trains on the device: the loss is known here
            return spent
        if not has_head:                      # cut 0: the raw input goes up, nothing comes back
            self.wire.send(x, 0)
            self.wire.send(y, 0)
            return 0.0
        with self.token:                      # never held across a send or receive
            t0 = cpu_clock()
            if opt is not None:
                opt.zero_grad(set_to_none=True)
            h = head(x)
            fwd = cpu_clock() - t0
        self.wire.send(h.detach(), 0)
        self.wire.send(y, 0)
        g, t_dn = self.wire.recv(0)
        self.down_s += t_dn
        with self.token:
            t2 = cpu_clock()
            h.backward(g)
            opt.step()
            return fwd + cpu_clock() - t2

    def _send_params(self, module, dst: int, wire: Wire | None = None):
        from .partition import flat_params
        (wire or self.wire).send(flat_params(module), dst)

    def _recv_head(self, module, src: int = 0) -> float:
        from .partition import set_flat
        flat, t = self.wire.recv(src)
        if flat.numel():
            set_flat(module, flat)
        return t

    # -- the server
    def _server_round(self, r: int):
        from .meters import RoundMeter
        from .partition import set_flat
        e, cm, par = self.engine, self.cm, self.plan.paradigm
        meter = RoundMeter(cm, self.cfg["host_rate"])
        n = len(e.devices)
        self._msgs = []                            # (device, up bytes, down bytes, measured up s)
        losses, srv_host, sync_up = [], [0.0] * n, [0.0] * n
        synced = [False] * n
        e.begin_round()
        if par == "sl":
            from .partition import pack_client, unpack_client
            for i in range(n):
                src = i + 1
                if n > 1 and (i > 0 or r > 0):   # the client part handed on to device i
                    self.wire.send(pack_client(e.head, e.opt_head), src)
                for _ in range(cm.tau):
                    losses.append(self._serve(src, e.tail, [e.opt_srv], srv_host, i, e.cut > 0))
                vec, sync_up[i] = (self.wire if n > 1 else self.evalwire).recv(src)
                unpack_client(e.head, e.opt_head, vec, (r * n + i + 1) * cm.tau)
                synced[i] = n > 1
        elif par == "pel":
            blocks = e.blocks()
            where = {k: gi for gi, g in enumerate(e.groups) for k in g}
            self._pel_bytes = {}
            for k in e.active:                     # every active worker's block down, then the updates up
                vec = e.download(blocks[where[k]])
                self._pel_bytes[k] = vec.numel() * vec.element_size()
                self.wire.send(vec, k + 1)
            updates = {}
            for k in e.active:
                updates[k], sync_up[k] = self.wire.recv(k + 1)
            e.cascade(blocks, updates)
        elif par == "fpl":
            trunk = nn.Sequential(*e.fm.trunk)
            for _ in range(cm.tau):
                for i in range(n):
                    g = e.groups[i]
                    slot = e.fm.junction[g]
                    losses.append(self._serve(i + 1, lambda a, slot=slot: trunk(slot(a)),
                                              [e.opt_junction[g], e.opt_trunk], srv_host, i, e.j > 0))
            for i in range(n):
                if e.groups.count(e.groups[i]) > 1:
                    flat, sync_up[i] = self.wire.recv(i + 1)
                    synced[i] = True
                else:
                    flat, _ = self.evalwire.recv(i + 1)
                set_flat(nn.Sequential(*e.fm.branches[i]), flat)
            e.fm.average_branches(e.weights(e.devices))
            for i in range(n):
                if synced[i]:
                    self._send_params(nn.Sequential(*e.fm.branches[i]), i + 1)
        else:
            for _ in range(cm.tau):
                for i in range(n):
                    if e.cuts[i] < cm.L:
                        losses.append(self._serve(i + 1, e.rep.tail(i), [e.opt_srv[i]], srv_host, i,
                                                  e.cuts[i] > 0))
            for i in range(n):
                flat, sync_up[i] = (self.wire if n > 1 else self.evalwire).recv(i + 1)
                if flat.numel():
                    set_flat(e.rep.head(i), flat)
                synced[i] = n > 1
            e.rep.average(e.weights(e.devices))
            for i in range(n if n > 1 else 0):
                self._send_params(e.rep.head(i), i + 1)
        stats = []
        for i in range(n):
            st = torch.zeros(7, dtype=torch.float64)
            dist.recv(st, i + 1)
            stats.append(st.tolist())
        T = self._account(meter, srv_host, sync_up, synced, stats)
        costs = meter.costs(par, e.devices, T)
        acc, test_loss = e.evaluate()
        dev_payload = sum(int(st[1]) for st in stats)
        dev_framing = sum(int(st[2]) for st in stats)
        # the training loss where it was computed: on the server for the split paradigms, on the
        # devices for fl and pel (they report it with their statistics)
        total = float(np.sum(losses)) + sum(st[5] for st in stats)
        count = len(losses) + sum(st[6] for st in stats)
        self.q.put(("round", r + 1, {"train_loss": total / count if count else float("nan"),
                                     "test_loss": test_loss, "test_accuracy": acc, "round_latency_s": T,
                                     "energy_j": costs.energy, "device_energy_j": costs.device_energy,
                                     "comm_bytes": costs.comm_bytes,
                                     "payload_bytes": int(self.wire.payload + dev_payload),
                                     "framing_bytes": int(self.wire.framing + dev_framing),
                                     "evaluation_bytes": int(self.evalwire.payload)},
                    costs.nodes.reset_index().to_dict("records"), [ev.__dict__ for ev in meter.events]))
        self.wire.payload = self.wire.framing = 0
        self.evalwire.payload = self.evalwire.framing = 0

    def _account(self, meter, srv_host, sync_up, synced, stats) -> float:
        """The round assembled as the in-process meter does, from what was measured here:
        compute converted to the nodes' speed, transfers at the plan's rates from the payload
        bytes that crossed (or, on shaped links, as timed)."""
        from .meters import Event
        e, par, n = self.engine, self.plan.paradigm, len(self.engine.devices)
        shaped = self.cfg.get("shaped", False)
        share = getattr(e, "share", getattr(e, "su", np.ones(n)))
        alpha = getattr(e, "alpha", np.ones(n))
        for i, dev in enumerate(e.devices):
            compute, _, _, down_s, sync_down_s = stats[i][:5]
            on = compute * meter.ratio(dev)
            meter.busy[dev] = meter.busy.get(dev, 0.0) + on
            if par == "pel":
                if i not in self._pel_bytes:       # idle this round
                    continue
                nbytes = self._pel_bytes[i]
                meter.send(e.R, i, nbytes, False, e.sd[i], dev, "download", down_s if shaped else None)
                meter.events.append(Event(dev, dev, "compute", on, 0, compute))
                meter.send(e.R, i, nbytes, True, e.su[i], dev, "upload", sync_up[i] if shaped else None)
                continue
            meter.events.append(Event(dev, dev, "device", on, 0, compute))
            srv = e.trunk_node if par == "fpl" else (e.servers[i] if hasattr(e, "servers") else e.server)
            if srv_host[i] > 0:
                on = srv_host[i] * self.speed * meter.ratio(srv)
                meter.busy[srv] = meter.busy.get(srv, 0.0) + on
                meter.events.append(Event(srv, dev, "trunk" if par == "fpl" else "server", on / alpha[i], 0,
                                          srv_host[i]))
            up = [(b, t) for (k, b, _, t) in self._msgs if k == i]
            dn = [b for (k, _, b, _) in self._msgs if k == i and b > 0]
            per_dn = down_s / max(len(dn), 1)
            for b, t in up:
                meter.send(e.R, i, b, True, share[i], dev, "uplink", t if shaped else None)
            for b in dn:
                meter.send(e.R, i, b, False, share[i], dev, "downlink", per_dn if shaped else None)
            if par == "sl" and n > 1:
                wb = e.handoff_bytes()
                meter.send(e.R, i, wb, True, 1.0, dev, "handoff", sync_up[i] if shaped else None)
                nxt = (i + 1) % n
                meter.send(e.R, nxt, wb, False, 1.0, dev, "handoff", stats[nxt][4] if shaped else None)
            elif synced[i]:
                mod = nn.Sequential(*e.fm.branches[i]) if par == "fpl" else e.rep.head(i)
                wb = sum(p.numel() * p.element_size() for p in mod.parameters())
                up, down = ("uplink", "downlink") if par == "fl" else ("sync", "sync")
                meter.send(e.R, i, wb, True, share[i], dev, up, sync_up[i] if shaped else None)
                meter.send(e.R, i, wb, False, share[i], dev, down, sync_down_s if shaped else None)
        if par == "sl":
            return sum(ev.seconds for ev in meter.events)
        return max(meter.device_time(d) for d in (e.devices if par != "pel" else [e.devices[k] for k in e.active]))

    def _serve(self, src: int, tail, opts, srv_host, i, reply: bool = True) -> float:
        from .engines import LOSS
        self.q.put(("beat", self.rank, None))
        act, t_act = self.wire.recv(src)
        y, t_y = self.wire.recv(src, torch.int64)
        act.requires_grad_(reply)
        with self.token:
            t0 = cpu_clock()
            for o in opts:
                if o is not None:
                    o.zero_grad(set_to_none=True)
            loss = LOSS(tail(act), y)
            loss.backward()
            for o in opts:
                if o is not None:
                    o.step()
            srv_host[i] += cpu_clock() - t0
        if reply:
            self.wire.send(act.grad, src)
        self._msgs.append((i, act.numel() * act.element_size() + y.numel() * y.element_size(),
                           act.grad.numel() * act.grad.element_size() if reply else 0, max(t_act, t_y)))
        return float(loss.detach())


    # -- dsgd: a pipeline of stage processes
    def _stage_ranks(self) -> list[int]:
        """The rank of each stage's node (the source is rank 0)."""
        e = self.engine
        others = [n for n, _, _ in e.stages if n != e.source]
        return [0 if n == e.source else 1 + others.index(n) for n, _, _ in e.stages]

    def _pipeline_round(self, r: int):
        from .engines import LOSS
        e, cm = self.engine, self.cm
        ranks = self._stage_ranks()
        mine = [k for k, rk in enumerate(ranks) if rk == self.rank]
        # the engine's one optimizer: parameters of other ranks' stages get no gradient here and
        # are left alone, so every stage steps exactly as in the one-process run (and resumes)
        opt = e.opt if mine else None
        batch = self.job.batch(e.source)
        n_st = len(e.stages)
        compute = {k: 0.0 for k in mine}              # CPU seconds per stage over the round
        msgs: list[tuple[int, int, int]] = []         # (boundary k, bytes, direction 1 fwd / 0 bwd)
        losses = []
        for _ in range(cm.tau):
            self.q.put(("beat", self.rank, None))
            if self.rank == 0:
                x, y = self.job.shards[e.source].next(self.job.batch(e.source))
                chunks = list(zip(torch.chunk(x, e.m), torch.chunk(y, e.m)))
            else:
                chunks = [None] * e.m
            if opt is not None:
                opt.zero_grad(set_to_none=True)
            saved, iter_loss = [], 0.0                 # per micro-batch: {stage: (input, output)}
            for mb in chunks:                          # forward, micro-batch by micro-batch
                keep = {}
                h, y = (mb if mb is not None else (None, None))
                for k in range(n_st):
                    src = 0 if k == 0 else ranks[k - 1]
                    if ranks[k] == self.rank:
                        if src != self.rank:           # activations (and labels) arrive
                            h, _ = self.wire.recv(src)
                            y, _ = self.wire.recv(src, torch.int64)
                        inp = h.detach().requires_grad_(k > 0)
                        with self.token:
                            t0 = cpu_clock()
                            out = e.parts[k](inp)
                            if k == n_st - 1:
                                out = LOSS(out, y) * (len(y) / batch)
                            compute[k] += cpu_clock() - t0
                        keep[k] = (inp, out)
                        h = out
                        if k + 1 < n_st and ranks[k + 1] != self.rank:
                            self.wire.send(h.detach(), ranks[k + 1])
                            self.wire.send(y, ranks[k + 1])
                            msgs.append((k + 1, h.numel() * h.element_size() + y.numel() * y.element_size(), 1))
                    elif k == 0 and self.rank == 0:    # the source holds no stage: the input goes up
                        self.wire.send(h, ranks[0])
                        self.wire.send(y, ranks[0])
                        msgs.append((0, h.numel() * h.element_size() + y.numel() * y.element_size(), 1))
                saved.append(keep)
            for keep in saved:                         # backward, micro-batch by micro-batch
                grad = None
                for k in reversed(range(n_st)):
                    if ranks[k] != self.rank:
                        continue
                    inp, out = keep[k]
                    if k < n_st - 1 and ranks[k + 1] != self.rank:
                        grad, _ = self.wire.recv(ranks[k + 1])
                    with self.token:
                        t0 = cpu_clock()
                        out.backward() if k == n_st - 1 else out.backward(grad)
                        compute[k] += cpu_clock() - t0
                    if k == n_st - 1:
                        iter_loss += float(out.detach())
                    grad = inp.grad
                    if k > 0 and ranks[k - 1] != self.rank:
                        self.wire.send(grad, ranks[k - 1])
                        msgs.append((k, grad.numel() * grad.element_size(), 0))
            if opt is not None:
                opt.step()
            if ranks[-1] == self.rank:
                losses.append(iter_loss)
        # gather to rank 0: compute per stage, messages, losses, and the stage weights for testing
        from .partition import flat_params, set_flat
        stats = torch.tensor([compute[k] * self.speed if k in compute else -1.0 for k in range(n_st)] +
                             [float(np.sum(losses)) if losses else 0.0, float(len(losses)),
                              float(self.wire.payload), float(self.wire.framing)], dtype=torch.float64)
        msg_t = torch.tensor(msgs if msgs else [(-1, 0, 0)], dtype=torch.float64).reshape(-1, 3)
        self.wire.payload = self.wire.framing = 0
        if self.rank != 0:
            dist.send(stats, 0)
            self.evalwire.send(msg_t, 0)
            for k in mine:
                self.evalwire.send(flat_params(e.parts[k]), 0)
            return
        world = dist.get_world_size()
        all_stats, all_msgs = [stats], [msg_t]
        for rk in range(1, world):
            st = torch.zeros_like(stats)
            dist.recv(st, rk)
            all_stats.append(st)
            m_t, _ = self.evalwire.recv(rk, torch.float64)
            all_msgs.append(m_t)
            for k in range(n_st):
                if ranks[k] == rk:
                    flat, _ = self.evalwire.recv(rk)
                    set_flat(e.parts[k], flat)
        self._pipeline_account(r, all_stats, all_msgs)

    def _pipeline_account(self, r, all_stats, all_msgs):
        from .meters import Event, RoundMeter
        e, cm = self.engine, self.cm
        meter = RoundMeter(cm, self.cfg["host_rate"])
        n_st, m = len(e.stages), e.m
        items = []
        for k, (node, _, _) in enumerate(e.stages):
            host = max(float(st[k]) for st in all_stats)          # the stage's own rank reports it
            on = host * meter.ratio(node)
            meter.busy[node] = meter.busy.get(node, 0.0) + on
            meter.events.append(Event(node, e.source, f"stage{k}", on, 0, host))
            items.append(on / (cm.tau * m))
        by = {}
        for t in all_msgs:
            for k, nbytes, fwd in t.tolist():
                if k >= 0:
                    by.setdefault((int(k), int(fwd)), []).append(int(nbytes))
        for (k, fwd), sizes in sorted(by.items()):
            R = e.hops[k]
            times = [meter.send(R, 0, b, bool(fwd), 1.0, e.source, ("fwd" if fwd else "bwd") + str(k)) for b in sizes]
            items.append(float(np.mean(times)))
        items = np.array(items)
        T = cm.tau * float(items.sum() + (m - 1) * items.max())
        costs = meter.costs("dsgd", [e.source], T)
        acc, test_loss = e.evaluate()
        loss_sum = sum(float(st[n_st]) for st in all_stats)
        count = sum(float(st[n_st + 1]) for st in all_stats)
        payload = int(sum(float(st[n_st + 2]) for st in all_stats))
        framing = int(sum(float(st[n_st + 3]) for st in all_stats))
        self.q.put(("round", r + 1, {"train_loss": loss_sum / max(count, 1), "test_loss": test_loss,
                                     "test_accuracy": acc, "round_latency_s": T, "energy_j": costs.energy,
                                     "device_energy_j": costs.device_energy, "comm_bytes": costs.comm_bytes,
                                     "payload_bytes": payload, "framing_bytes": framing,
                                     "evaluation_bytes": int(self.evalwire.payload)},
                    costs.nodes.reset_index().to_dict("records"), [ev.__dict__ for ev in meter.events]))
        self.evalwire.payload = self.evalwire.framing = 0


# ---------------------------------------------------------------- the parent

def _silent_death(procs, q, reported: set, grace: float = 5.0) -> int | None:
    """The rank of a process that exited non-zero without reporting an error (killed, crashed),
    waiting up to `grace` seconds for the others to notice and exit."""
    end = time.monotonic() + grace
    while time.monotonic() < end:
        try:
            while True:
                m = q.get_nowait()
                if m[0] == "error":
                    reported.add(m[1])
        except queue_mod.Empty:
            pass
        for rank, p in enumerate(procs):
            if p.exitcode is not None and p.exitcode != 0 and rank not in reported:
                return rank
        if all(p.exitcode is not None for p in procs):
            return None
        time.sleep(0.1)
    return None


def _previous(path: Path) -> Path:
    return path.with_name(path.stem + ".prev.pt")


def _check_resume(out: Path, plan, done: int, world: int) -> int:
    """The round every node can resume from: the launcher's last recorded round, or one before
    it where a node was stopped before saving it. Every rank must hold a state of that round and
    this plan; states of other rounds (a node that ran on after its launcher, another run in the
    same folder) are refused."""
    from edgeplan.errors import PlanError

    from .runner import load_checkpoint
    rounds = {}
    for rank in range(world):
        have = {}
        for path in (out / f"rank{rank}.pt", _previous(out / f"rank{rank}.pt")):
            if path.exists():
                st = load_checkpoint(path)
                if st.get("plan") != plan.to_dict():
                    raise PlanError(f"{path} belongs to another plan; start afresh in a new --out")
                have[int(st.get("round", -1))] = path
        rounds[rank] = have
    target = min([done] + [max(h) if h else 0 for h in rounds.values()])
    for rank, have in rounds.items():
        if target and target not in have:
            got = ", ".join(str(r) for r in sorted(have)) or "none"
            raise PlanError(f"rank {rank} holds the states of rounds {got}, the run recorded {done}: the states do not "
                            "fit together (a node ran on after its launcher?); start afresh in a new --out")
    return target


def run_distributed(scenario_path: str, plan, rounds: int | None = None, out_dir=None, resume: bool = False,
                    progress: bool = False, seed: int | None = None, timeout: float = 120.0,
                    kill: dict | None = None, shaped: bool = False):
    """Run fl/sl/psl with one process per node; returns a runner.RunResult."""
    import pandas as pd
    from edgeplan.errors import PlanError
    from edgeplan.scenario import load_scenario

    from .data import split_kind
    from .runner import RunResult, _bar, _calibrate, accuracy_curve, make_job, predicted_accuracy

    if plan.paradigm not in SUPPORTED:
        raise PlanError(f"the distributed executor runs {', '.join(SUPPORTED)}; run {plan.paradigm} with "
                        "--executor inprocess")
    scn = load_scenario(scenario_path)
    job, cm, _ = make_job(scn, plan, seed)
    plan = job.plan
    rounds = rounds or scn.spec.training.rounds
    curve = accuracy_curve(scn, plan, cm, job.decisions)
    spr = float(plan.predicted.get("samples_per_round") or 0.0) or None
    with one_torch_thread():
        host_rate = _calibrate(job, cm)
    if plan.paradigm == "dsgd":
        d = job.decisions
        others = list(dict.fromkeys(n for n, _, _ in d["stages"] if n != d["source"]))
        world = 1 + len(others)
    else:
        world = len(cm.devices) + 1
    out = Path(out_dir) if out_dir else None
    rows, node_rows = [], []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if resume and (out / "rounds.json").exists():
            saved = json.loads((out / "rounds.json").read_text())
            rows, node_rows = saved["rounds"], saved["nodes"]
        if resume:
            target = _check_resume(out, plan, len(rows), world)
            rows = rows[:target]
            node_rows = [r for r in node_rows if r.get("round", 0) <= target]
    if plan.paradigm == "dsgd":
        names = [f"source {job.decisions['source']}"] + [f"stage node {n}" for n in others]
    else:
        top = plan.paradigm_detail.get("server") or plan.paradigm_detail.get("trunk") or "server"
        names = [f"{'trunk' if plan.paradigm == 'fpl' else 'server'} {top}"] + [f"device {d}" for d in cm.devices]
    net = None
    cfg = {"scenario": str(Path(scenario_path).resolve()), "plan": plan.to_dict(), "rounds": rounds,
           "seed": job.seed, "out": str(out) if out else None, "resume": resume, "timeout": timeout,
           "host_rate": host_rate, "kill": kill, "shaped": shaped, "parent": os.getpid(),
           "resume_round": len(rows) if resume else 0}
    if shaped and plan.paradigm == "dsgd":
        raise PlanError("--shaped covers devices and their servers; run dsgd distributed without it")
    if shaped:
        from .netns import ShapedNetwork
        net = ShapedNetwork.for_plan(cm, plan, job.decisions)
        cfg.update(net.config())
    else:
        cfg["init"] = f"tcp://127.0.0.1:{_free_port()}"
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # idle workers must not spin on the 2 cores
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    token = ctx.Lock()   # every node on this host: computed one at a time (see _node)
    procs = []
    bar = _bar(progress, rounds, len(rows))
    events = []
    try:
        for rank in range(world):
            p = ctx.Process(target=_node, args=(rank, world, cfg, q, token), daemon=True, name=names[rank])
            p.start()
            procs.append(p)
        done = len(rows)
        last = time.monotonic()
        beats = {rank: last for rank in range(world)}
        alive = set()          # ranks that have started (imported torch, joined the group)
        startup = max(timeout, 180.0)
        while done < rounds:
            try:
                msg = q.get(timeout=1.0)
            except queue_mod.Empty:
                msg = None
            if msg is not None and msg[0] == "beat":
                beats[msg[1]] = time.monotonic()
                if msg[1] not in alive:
                    alive.add(msg[1])
                    if len(alive) == world:      # everybody is up: the progress clock starts now
                        last = time.monotonic()
                continue
            if msg is not None and msg[0] == "round":
                _, r, row, nodes, events = msg
                row = {"round": r, **row, "predicted_round_latency_s": plan.predicted["round_latency_s"],
                       "predicted_comm_bytes": plan.predicted["comm_bytes"], **predicted_accuracy(curve, r, spr)}
                rows.append(row)
                for nr in nodes:
                    nr["round"] = r
                node_rows += nodes
                done, last = r, time.monotonic()
                if out is not None:
                    from edgeplan.files import atomic_write_text, write_csv
                    atomic_write_text(out / "rounds.json", json.dumps({"rounds": rows, "nodes": node_rows},
                                                                       default=float))
                    write_csv(pd.DataFrame(rows), out / "rounds.csv")
                if bar:
                    bar[0].update(bar[1], completed=done, description=f"round {r}/{rounds}: acc {row['test_accuracy']:.3f}")
                continue
            saved = (f"; rounds 1..{done} are saved" + (f" in {out}" if out else "")) if done else \
                "; no round had finished"
            if msg is not None and msg[0] == "error":
                # a peer's broken connection is a symptom: blame a node that died without a word
                _, rank, text, tb = msg
                dead = _silent_death(procs, q, {rank})
                if dead is not None:
                    raise WorkerFailed(f"{names[dead]} (rank {dead}) died (exit code {procs[dead].exitcode}) in "
                                       f"round {done + 1}{saved}")
                raise WorkerFailed(f"{names[rank]} (rank {rank}) failed in round {done + 1}: {text}{saved}")
            for rank, p in enumerate(procs):
                if p.exitcode is not None and p.exitcode != 0:
                    raise WorkerFailed(f"{names[rank]} (rank {rank}) died (exit code {p.exitcode}) in round "
                                       f"{done + 1}{saved}")
            if len(alive) < world and time.monotonic() - last > startup:
                late = min(set(range(world)) - alive)
                raise WorkerFailed(f"{names[late]} (rank {late}) did not start within {startup:.0f} s{saved}")
            if len(alive) == world and time.monotonic() - last > timeout:
                # the node silent the longest is the one holding everybody up
                quiet = min((r for r in range(world) if procs[r].is_alive()), key=lambda r: beats[r])
                raise WorkerFailed(f"{names[quiet]} (rank {quiet}) hung: no progress for {timeout:.0f} s in round "
                                   f"{done + 1}{saved}")
        for p in procs:
            p.join(timeout=timeout)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(5)
        if bar:
            bar[0].stop()
        if net is not None:
            net.close()
    return RunResult(plan, pd.DataFrame(rows), pd.DataFrame(node_rows), events, host_rate,
                     "distributed" + (" (shaped)" if shaped else ""),
                     {"framing_bytes": int(sum(r.get("framing_bytes", 0) for r in rows)), "split": job.split,
                      "client_state": scn.spec.training.client_state,
                      "split_kind": split_kind(scn.spec.training.iid, scn.spec.training.dirichlet_alpha)})


if __name__ == "__main__":   # torchrun / manual start on real machines: python -m validation.distributed JOB.json
    cfg = json.loads(Path(sys.argv[1]).read_text())
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    cfg.setdefault("init", "env://")

    class _Print:
        def put(self, m):
            print(json.dumps(m[:3], default=float), flush=True)
    _node(rank, world, cfg, _Print())
