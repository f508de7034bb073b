"""fl, psl, sl and fpl: the device runs the layers below a cut, the server (fpl: the trunk)
the rest; see validation.engine for how a program meets its nodes."""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from .engine import LOSS, Engine, accuracy, opt_step, opt_zero, send_module, split_step
from .partition import FplModel, Replicas, pack_client, unpack_client
from .transport import off_wire, on_wire

# ---------------------------------------------------------------- fl, psl: replicas with a cut each

class ReplicaEngine(Engine):
    """psl (a cut per device) and fl (the cut after the last unit): all devices each iteration,
    per-device server-side parts, unit-by-unit averaging at the end of the round."""

    def build(self):
        d, cm = self.d, self.cm
        self.devices = list(d["devices"])
        self.cuts = [cm.L] * len(self.devices) if self.paradigm == "fl" else [int(c) for c in d["cuts"]]
        self.rep = Replicas.build(self.units(), self.cuts)
        srv = d["server"]
        self.servers = srv if isinstance(srv, list) else [srv] * len(self.devices)
        self.hub = self.servers[0]
        self.R = cm.routes(self.devices, self.servers)
        self.share = np.asarray(d["share"], float)
        alpha = d.get("alpha")
        if alpha is None:
            alpha = np.array([1.0 / self.servers.count(s) for s in self.servers])
        self.alpha = np.asarray(alpha, float)
        self._client_optimizers()

    def link(self, i: int):
        return self.R, i, self.share[i]

    def _client_optimizers(self):
        """Per device: the optimizer of its part and of its part on the server (both client state:
        the server-side parts are averaged with the rest at the end of every round)."""
        self.opt_dev = [self.job.optimizer(self.rep.head(i).parameters()) for i in range(len(self.devices))]
        self.opt_srv = [self.job.optimizer(self.rep.tail(i).parameters()) for i in range(len(self.devices))]

    def begin_round(self):
        if self.reset_clients:
            self._client_optimizers()

    def modules(self):
        return {f"replica{i}": self.rep.model(i) for i in range(len(self.devices))}

    def optimizers(self):
        out = {f"dev{i}": o for i, o in enumerate(self.opt_dev)}
        out.update({f"srv{i}": o for i, o in enumerate(self.opt_srv)})
        return out

    def iteration(self, tx, i: int):
        dev, head, c = self.devices[i], self.rep.head(i), self.cuts[i]
        x, y = self.data(tx, dev)
        if c < self.cm.L:
            return split_step(tx, self.link(i), dev, self.servers[i], x, y, head, self.rep.tail(i), self.opt_dev[i],
                              [self.opt_srv[i]], self.alpha[i], has_head=c > 0)
        if not tx.here(dev):
            return None
        with tx.compute(dev, dev, "device"):      # the whole step on the device
            loss = self.whole_step(i, x, y)
        return float(loss)

    def whole_step(self, i: int, x, y):
        """One SGD step of device i's whole model (no server part); its loss, detached."""
        opt_zero(self.opt_dev[i])
        loss = LOSS(self.rep.head(i)(x), y.long())
        loss.backward()
        opt_step(self.opt_dev[i])
        return loss.detach()

    def local_steps(self, tx, i: int) -> list:
        """fl: device i's local iterations of the whole model, back to back in one timed block, as
        a device runs them; the batches are drawn before it, untimed. Step by step, the devices'
        processes could take the host's token in turns, each step after a wait, which a KVM host
        runs 1.1-1.35x long (bench_validation's restart_slowdown). Five paired runs on shaped
        links: fl's round 6-22% over its prediction against 17-20% step by step; single runs
        still range 6-28%."""
        dev = self.devices[i]
        if not tx.here(dev):
            return []
        batches = [self.data(tx, dev) for _ in range(self.cm.tau)]
        with tx.compute(dev, dev, "device"):
            losses = [self.whole_step(i, x, y) for x, y in batches]
        return [float(v) for v in losses]

    def round(self, tx):
        self.begin_round()
        if all(c == self.cm.L for c in self.cuts):     # no server in the loop: each device's steps at once
            losses = [v for i in range(len(self.devices)) for v in self.local_steps(tx, i)]
        else:
            losses = [self.iteration(tx, i) for _ in range(self.cm.tau) for i in range(len(self.devices))]
        n = len(self.devices)
        up, down = ("uplink", "downlink") if self.paradigm == "fl" else ("sync", "sync")   # the cost model's names
        for i, dev in enumerate(self.devices):     # the client parts up, the average back down
            if n > 1:
                send_module(tx, self.rep.head(i), dev, self.servers[i], self.link(i), True, dev, up)
            else:                                   # nobody to average with
                send_module(tx, self.rep.head(i), dev, self.hub)
        if n > 1 and tx.here(self.hub):
            self.rep.average(self.weights(self.devices))
        for i, dev in enumerate(self.devices if n > 1 else []):
            send_module(tx, self.rep.head(i), self.servers[i], dev, self.link(i), False, dev, down)
        return losses

    def evaluate(self):
        return accuracy(self.rep.model(0), self.job.ds)


class FLEngine(ReplicaEngine):
    paradigm = "fl"


class PSLEngine(ReplicaEngine):
    paradigm = "psl"


# ---------------------------------------------------------------- sl: one model, devices in turn

class SLEngine(Engine):
    paradigm = "sl"

    def build(self):
        d, cm = self.d, self.cm
        self.devices = list(d["devices"])
        ug = self.units()
        self.cut = int(d["cut"])
        self.head = nn.Sequential(*[copy.deepcopy(u) for u in ug.units[: self.cut]])
        self.tail = nn.Sequential(*[copy.deepcopy(u) for u in ug.units[self.cut:]])
        self.server = self.hub = d["server"]
        self.R = cm.routes(self.devices, [self.server] * len(self.devices), concurrent=False)
        # the client part travels with its optimizer state, so the devices in turn train one model
        # exactly as SGD on their batches in that order would (DESIGN.md's oracle)
        self.opt_head = self.job.optimizer(self.head.parameters())
        self.opt_srv = self.job.optimizer(self.tail.parameters())

    def modules(self):
        return {"head": self.head, "tail": self.tail}

    def optimizers(self):
        return {"head": self.opt_head, "srv": self.opt_srv}

    def _pass(self, tx, vec, src: str, dst: str, link, up: bool, device: str, steps: int):
        """The client part (weights, optimizer state) from src to dst, loaded where it arrives
        in another process; `steps` is the optimizer's step count so far (Adam needs it). Below
        float32 on the wire the sender's part takes the wire's precision too (in process it is the
        receiver's part)."""
        if link is not None and tx.wire_dtype != torch.float32 and tx.here(src):
            vec = off_wire(on_wire(vec, tx.wire_dtype))
            unpack_client(self.head, self.opt_head, vec[0], steps)
        got = tx.move(vec, src, dst, link, up, device, "handoff")
        if tx.here(dst) and not tx.here(src):
            unpack_client(self.head, self.opt_head, got[0], steps)
        return got

    def round(self, tx):
        losses = []
        n, tau, srv = len(self.devices), self.cm.tau, self.server
        for i, dev in enumerate(self.devices):
            for _ in range(tau):
                x, y = self.data(tx, dev)
                losses.append(split_step(tx, (self.R, i, 1.0), dev, srv, x, y, self.head, self.tail,
                                         self.opt_head, [self.opt_srv], has_head=self.cut > 0))
            steps = (self.round_no * n + i + 1) * tau
            vec = [pack_client(self.head, self.opt_head)] if tx.here(dev) else None
            if n == 1:                     # a lone device keeps it; the server only tests it
                self._pass(tx, vec, dev, srv, None, True, dev, steps)
                continue
            nxt = (i + 1) % n              # on to the next device, through the server
            vec = self._pass(tx, vec, dev, srv, (self.R, i, 1.0), True, dev, steps)
            self._pass(tx, vec, srv, self.devices[nxt], (self.R, nxt, 1.0), False, dev, steps)
        return losses

    def latency(self, meter):
        return sum(e.seconds for e in meter.events)    # the devices in turn

    def evaluate(self):
        return accuracy(nn.Sequential(*self.head, *self.tail), self.job.ds)


# ---------------------------------------------------------------- fpl: branches, junction, trunk

class FPLEngine(Engine):
    paradigm = "fpl"

    def build(self):
        d, cm = self.d, self.cm
        self.devices = list(d["devices"])
        self.j = int(d["junction"])
        self.trunk_node = self.hub = d["trunk"]
        self.groups = [d["groups"][x] for x in self.devices]
        self.fm = FplModel.build(self.units(), self.j, self.groups)
        self.R = cm.routes(self.devices, [self.trunk_node] * len(self.devices))
        self.share = np.asarray(d["share"], float)
        n = len(self.devices)
        self.alpha = np.full(n, 1.0 / n) if d.get("alpha") is None else np.asarray(d["alpha"], float)
        self._branch_optimizers()
        self.opt_junction = {g: self.job.optimizer(m.parameters()) for g, m in self.fm.junction.items()}
        self.opt_trunk = self.job.optimizer(p for u in self.fm.trunk for p in u.parameters())

    def _branch_optimizers(self):
        """The devices' branch optimizers (client state); the junction and trunk keep theirs."""
        self.opt_branch = [self.job.optimizer(p for u in b for p in u.parameters()) for b in self.fm.branches]

    def begin_round(self):
        if self.reset_clients:
            self._branch_optimizers()

    def modules(self):
        out = {f"branch{i}": nn.Sequential(*b) for i, b in enumerate(self.fm.branches)}
        out.update({f"junction:{g}": m for g, m in self.fm.junction.items()})
        out["trunk"] = nn.Sequential(*self.fm.trunk)
        return out

    def optimizers(self):
        out = {f"branch{i}": o for i, o in enumerate(self.opt_branch)}
        out.update({f"junction:{g}": o for g, o in self.opt_junction.items()})
        out["trunk"] = self.opt_trunk
        return out

    def round(self, tx):
        self.begin_round()
        losses = []
        trunk, top = nn.Sequential(*self.fm.trunk), self.trunk_node
        for _ in range(self.cm.tau):
            for i, dev in enumerate(self.devices):
                g = self.groups[i]
                x, y = self.data(tx, dev)
                slot = self.fm.junction[g]
                losses.append(split_step(tx, (self.R, i, self.share[i]), dev, top, x, y,
                                         nn.Sequential(*self.fm.branches[i]), lambda a, slot=slot: trunk(slot(a)),
                                         self.opt_branch[i], [self.opt_junction[g], self.opt_trunk], self.alpha[i],
                                         has_head=self.j > 0, srv_phase="trunk"))
        synced = [self.groups.count(g) > 1 for g in self.groups]   # branch averaging inside groups
        for i, dev in enumerate(self.devices):
            link = (self.R, i, self.share[i]) if synced[i] else None
            send_module(tx, nn.Sequential(*self.fm.branches[i]), dev, top, link, True, dev, "sync")
        if tx.here(top):
            self.fm.average_branches(self.weights(self.devices))
        for i, dev in enumerate(self.devices):
            if synced[i]:
                send_module(tx, nn.Sequential(*self.fm.branches[i]), top, dev, (self.R, i, self.share[i]), False,
                            dev, "sync")
        return losses

    def evaluate(self):
        accs = [accuracy(self.fm.model_for_group(g), self.job.ds) for g in dict.fromkeys(self.groups)]
        return float(np.mean([a for a, _ in accs])), float(np.mean([loss for _, loss in accs]))
