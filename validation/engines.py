"""Training the partitioned network for real, one paradigm each, in one process.

Every engine runs its paradigm's round in the order the paradigm runs it, on real data and the
real model cut by the plan, and meters it (validation.meters): compute timed here and converted
to the node's speed, every tensor that crosses a cut counted in bytes as it would travel, and
transfers timed at the plan's allocated rates. The round's measured latency is assembled from
these events exactly as the cost model assembles its prediction (max over devices for parallel
paradigms, a sum for sl, sum + (m-1) max over micro-batch items for dsgd).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from edgeplan import pel_costs as PC
from edgeplan.costs import CostModel
from edgeplan.models.profile import one_torch_thread
from torch import nn

from .data import Dataset
from .meters import RoundMeter, tensor_bytes
from .partition import (
    FplModel,
    Replicas,
    block_bounds,
    block_mask,
    flat_params,
    make_model,
    make_optimizer,
    set_flat,
    unit_modules,
)

LOSS = nn.CrossEntropyLoss()


class Shard:
    """A device's samples: shuffled each epoch, batches drawn in order, reproducible."""

    def __init__(self, ds: Dataset, idx: np.ndarray, seed: int):
        self.ds, self.idx, self.seed = ds, np.asarray(idx, int), seed
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(self.idx)
        self.pos = 0

    def next(self, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        take = []
        while len(take) < b:
            if self.pos >= len(self.order):
                self.order = self.rng.permutation(self.idx)
                self.pos = 0
            k = min(b - len(take), len(self.order) - self.pos)
            take.extend(self.order[self.pos:self.pos + k])
            self.pos += k
        t = torch.as_tensor(np.array(take))
        return self.ds.x_train[t], self.ds.y_train[t]

    def state(self) -> dict:
        """Plain data and tensors only (checkpoints load with weights_only=True: no code)."""
        return {"rng": self.rng.bit_generator.state, "order": torch.as_tensor(np.asarray(self.order, np.int64)),
                "pos": int(self.pos)}

    def load(self, s: dict) -> None:
        self.rng.bit_generator.state = s["rng"]
        self.order, self.pos = np.asarray(s["order"]).astype(int), int(s["pos"])


@dataclass
class Job:
    """What every engine needs: the scenario's cost model, the plan's decisions, data, shards."""
    cm: CostModel
    decisions: dict
    ds: Dataset
    shards: dict
    seed: int
    split: list = None          # per device: samples held, asked, classes (data.split_summary)
    coverage: float = 1.0       # share of test samples whose class the training data holds
    plan: object = None         # the plan as evaluated against the scenario (edgeplan.planfile.Plan)

    @property
    def spec(self):
        return self.cm.scn.spec

    def batch(self, dev: str) -> int:
        return int(self.cm.batch[self.cm.idx[dev]])

    def model(self) -> nn.Module:
        m = self.spec.model
        if m.zoo is None:                        # the user's own model (model.module / model.export)
            from edgeplan.models.user import user_model
            return user_model(m, self.cm.scn.base_dir, self.seed)
        return make_model(m.zoo, m.input_shape, m.num_classes, self.seed)

    def optimizer(self, params):
        return make_optimizer(params, self.spec.training.optimizer, self.spec.training.learning_rate)


def accuracy(model: nn.Module, ds: Dataset) -> tuple[float, float]:
    model.eval()
    with torch.no_grad():
        out = model(ds.x_test)
        loss = float(LOSS(out, ds.y_test))
        acc = float((out.argmax(1) == ds.y_test).float().mean())
    model.train()
    return acc, loss


def _step(opt):
    if opt is not None:
        opt.step()


def _zero(opt):
    if opt is not None:
        opt.zero_grad(set_to_none=True)


def split_step(meter: RoundMeter, R, i: int, dev: str, srv: str, x, y, head, tail, opt_dev, opt_srv: list,
               share: float, alpha: float = 1.0, has_head: bool = True, srv_phase: str = "server") -> float:
    """One split iteration: the device's part forward, its activations (and labels) up route i,
    the server's part forward, loss, backward and step, the gradient down, the device's part
    backward and step. With no device part (cut 0) the raw input goes up and nothing comes
    back. Returns the loss."""
    if has_head:
        with meter.compute(dev, dev, "device"):
            h = head(x)
        act = h.detach().requires_grad_(True)
    else:
        h, act = None, x
    meter.send(R, i, tensor_bytes(act, y), True, share, dev, "uplink")
    with meter.compute(srv, dev, srv_phase, alpha):
        for o in opt_srv:
            _zero(o)
        loss = LOSS(tail(act), y)
        loss.backward()
        for o in opt_srv:
            _step(o)
    if h is not None:
        meter.send(R, i, tensor_bytes(act.grad), False, share, dev, "downlink")
        with meter.compute(dev, dev, "device"):
            _zero(opt_dev)
            h.backward(act.grad)
            _step(opt_dev)
    return float(loss.detach())


class Engine:
    paradigm = ""

    def __init__(self, job: Job):
        self.job, self.cm, self.d = job, job.cm, job.decisions
        self.build()

    def build(self):
        raise NotImplementedError

    def round(self, meter: RoundMeter) -> tuple[float, float]:
        """Run one round; returns (mean training loss, measured round latency)."""
        raise NotImplementedError

    def begin_round(self) -> None:
        """Called by every executor before a round: with `training.client_state: reset` (FedAvg as
        published) each client starts the round with a fresh optimizer state."""

    @property
    def reset_clients(self) -> bool:
        return self.job.spec.training.client_state == "reset"

    def evaluate(self) -> tuple[float, float]:
        raise NotImplementedError

    def modules(self) -> dict[str, nn.Module]:
        raise NotImplementedError

    def optimizers(self) -> dict:
        raise NotImplementedError

    def state(self) -> dict:
        return {"modules": {k: m.state_dict() for k, m in self.modules().items()},
                "optimizers": {k: o.state_dict() for k, o in self.optimizers().items() if o is not None}}

    def load(self, s: dict) -> None:
        for k, m in self.modules().items():
            m.load_state_dict(s["modules"][k])
        for k, o in self.optimizers().items():
            if o is not None and k in s["optimizers"]:
                o.load_state_dict(s["optimizers"][k])

    def units(self):
        """A fresh model of the scenario (seeded) traced into the plan's units."""
        return unit_modules(self.job.model(), self.job.spec.model.input_shape)

    def weights(self, devices) -> np.ndarray:
        return np.array([len(self.job.shards[d].idx) for d in devices], float)


# ---------------------------------------------------------------- fl, psl: replicas with a cut each

class ReplicaEngine(Engine):
    """psl (a cut per device) and fl (the cut after the last unit): all devices each iteration,
    per-device server-side parts, unit-by-unit averaging at the end of the round."""

    def build(self):
        d, cm = self.d, self.cm
        self.devices = list(d["devices"])
        ug = self.units()
        self.cuts = [cm.L] * len(self.devices) if self.paradigm == "fl" else [int(c) for c in d["cuts"]]
        self.rep = Replicas.build(ug, self.cuts)
        srv = d["server"]
        self.servers = srv if isinstance(srv, list) else [srv] * len(self.devices)
        self.R = cm.routes(self.devices, self.servers)
        self.share = np.asarray(d["share"], float)
        alpha = d.get("alpha")
        if alpha is None:
            alpha = np.array([1.0 / self.servers.count(s) for s in self.servers])
        self.alpha = np.asarray(alpha, float)
        self._client_optimizers()

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

    def iteration(self, meter: RoundMeter, i: int) -> float:
        dev, srv = self.devices[i], self.servers[i]
        head, tail, c = self.rep.head(i), self.rep.tail(i), self.cuts[i]
        x, y = self.job.shards[dev].next(self.job.batch(dev))
        if c == self.cm.L:                       # fl: the whole step on the device
            with meter.compute(dev, dev, "device"):
                _zero(self.opt_dev[i])
                loss = LOSS(head(x), y)
                loss.backward()
                _step(self.opt_dev[i])
            return float(loss.detach())
        return split_step(meter, self.R, i, dev, srv, x, y, head, tail, self.opt_dev[i], [self.opt_srv[i]],
                          self.share[i], self.alpha[i], has_head=c > 0)

    def round(self, meter):
        self.begin_round()
        losses = []
        for _ in range(self.cm.tau):
            for i in range(len(self.devices)):
                losses.append(self.iteration(meter, i))
        up, down = ("uplink", "downlink") if self.paradigm == "fl" else ("sync", "sync")   # the cost model's names
        for i, dev in enumerate(self.devices if len(self.devices) > 1 else []):   # up, the average back down
            wb = sum(p.numel() * p.element_size() for p in self.rep.head(i).parameters())
            meter.send(self.R, i, wb, True, self.share[i], dev, up)
            meter.send(self.R, i, wb, False, self.share[i], dev, down)
        self.rep.average(self.weights(self.devices))
        T = max(meter.device_time(d) for d in self.devices)
        return float(np.mean(losses)), T

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
        self.server = d["server"]
        self.R = cm.routes(self.devices, [self.server] * len(self.devices), concurrent=False)
        # the client part travels with its optimizer state, so the devices in turn train one model
        # exactly as SGD on their batches in that order would (DESIGN.md's oracle)
        self.opt_head = self.job.optimizer(self.head.parameters())
        self.opt_dev = [self.opt_head] * len(self.devices)
        self.opt_srv = self.job.optimizer(self.tail.parameters())

    def modules(self):
        return {"head": self.head, "tail": self.tail}

    def optimizers(self):
        return {"head": self.opt_head, "srv": self.opt_srv}

    def handoff_bytes(self) -> int:
        """What passes from device to device: the client part's weights and optimizer state."""
        from .partition import optimizer_state
        return tensor_bytes(*self.head.parameters(), optimizer_state(self.opt_head, list(self.head.parameters())))

    def round(self, meter):
        losses = []
        n = len(self.devices)
        wb = self.handoff_bytes()
        for i, dev in enumerate(self.devices):
            for _ in range(self.cm.tau):
                x, y = self.job.shards[dev].next(self.job.batch(dev))
                losses.append(split_step(meter, self.R, i, dev, self.server, x, y, self.head, self.tail,
                                         self.opt_dev[i], [self.opt_srv], 1.0, has_head=self.cut > 0))
            if n > 1:   # the client part goes to the next device through the server (a lone device keeps it)
                meter.send(self.R, i, wb, True, 1.0, dev, "handoff")
                meter.send(self.R, (i + 1) % n, wb, False, 1.0, dev, "handoff")
        T = sum(e.seconds for e in meter.events)
        return float(np.mean(losses)), T

    def evaluate(self):
        return accuracy(nn.Sequential(*self.head, *self.tail), self.job.ds)


# ---------------------------------------------------------------- fpl: branches, junction, trunk

class FPLEngine(Engine):
    paradigm = "fpl"

    def build(self):
        d, cm = self.d, self.cm
        self.devices = list(d["devices"])
        ug = self.units()
        self.j = int(d["junction"])
        self.trunk_node = d["trunk"]
        self.groups = [d["groups"][x] for x in self.devices]
        self.fm = FplModel.build(ug, self.j, self.groups)
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

    def round(self, meter):
        self.begin_round()
        losses = []
        trunk = nn.Sequential(*self.fm.trunk)
        for _ in range(self.cm.tau):
            for i, dev in enumerate(self.devices):
                g = self.groups[i]
                branch = nn.Sequential(*self.fm.branches[i])
                x, y = self.job.shards[dev].next(self.job.batch(dev))
                slot = self.fm.junction[g]
                losses.append(split_step(meter, self.R, i, dev, self.trunk_node, x, y, branch,
                                         lambda a, slot=slot: trunk(slot(a)), self.opt_branch[i],
                                         [self.opt_junction[g], self.opt_trunk], self.share[i], self.alpha[i],
                                         has_head=self.j > 0, srv_phase="trunk"))
        sizes = {g: self.groups.count(g) for g in set(self.groups)}
        for i, dev in enumerate(self.devices):    # branch averaging inside groups of several devices
            if sizes[self.groups[i]] > 1:
                wb = sum(p.numel() * p.element_size() for u in self.fm.branches[i] for p in u.parameters())
                meter.send(self.R, i, wb, True, self.share[i], dev, "sync")
                meter.send(self.R, i, wb, False, self.share[i], dev, "sync")
        self.fm.average_branches(self.weights(self.devices))
        T = max(meter.device_time(d) for d in self.devices)
        return float(np.mean(losses)), T

    def evaluate(self):
        accs = [accuracy(self.fm.model_for_group(g), self.job.ds) for g in dict.fromkeys(self.groups)]
        return float(np.mean([a for a, _ in accs])), float(np.mean([loss for _, loss in accs]))


# ---------------------------------------------------------------- dsgd: stages along a path

class DSGDEngine(Engine):
    paradigm = "dsgd"

    def build(self):
        d, cm = self.d, self.cm
        self.model = self.job.model()
        ug = unit_modules(self.model, self.job.spec.model.input_shape)
        self.units = ug.units
        self.stages = [(n, a, b) for n, a, b in d["stages"]]
        self.parts = [nn.Sequential(*self.units[a - 1:b]) for _, a, b in self.stages]
        self.m = int(d["microbatches"])
        self.source = d["source"]
        path = list(d["path"])
        pos = {n: k for k, n in enumerate(path)}
        holders = [self.source] + [s[0] for s in self.stages]
        self.hops = []
        for k in range(len(self.stages)):
            a, b = holders[k], holders[k + 1]
            self.hops.append(None if a == b else cm.routes([a], [b], concurrent=False, via=[path[pos[a]:pos[b] + 1]]))
        self.opt = self.job.optimizer(self.model.parameters())

    def modules(self):
        return {"model": self.model}

    def optimizers(self):
        return {"model": self.opt}

    def round(self, meter):
        losses, T = [], 0.0
        n_st = len(self.stages)
        for _ in range(self.cm.tau):
            x, y = self.job.shards[self.source].next(self.job.batch(self.source))
            items: dict[str, list[float]] = {}
            _zero(self.opt)
            loss_sum = 0.0
            for xm, ym in zip(torch.chunk(x, self.m), torch.chunk(y, self.m)):
                acts, ins = [], []
                h = xm
                for k, (node, _, _) in enumerate(self.stages):
                    if self.hops[k] is not None:
                        t = meter.send(self.hops[k], 0, tensor_bytes(h, ym), True, 1.0, self.source, f"fwd{k}")
                        items.setdefault(f"fwd{k}", []).append(t)
                    inp = h.detach().requires_grad_(k > 0)
                    n0 = len(meter.events)
                    with meter.compute(node, self.source, f"stage{k}"):
                        out = self.parts[k](inp)
                        if k == n_st - 1:
                            out = LOSS(out, ym) * (len(ym) / len(y))
                    items.setdefault(f"stage{k}", []).append(meter.events[n0].seconds)
                    ins.append(inp)
                    acts.append(out)
                    h = out
                loss_sum += float(acts[-1].detach())
                grad = None
                for k in reversed(range(n_st)):
                    node = self.stages[k][0]
                    n0 = len(meter.events)
                    with meter.compute(node, self.source, f"stage{k}"):
                        if grad is None:
                            acts[k].backward()
                        else:
                            acts[k].backward(grad)
                    items[f"stage{k}"][-1] += meter.events[n0].seconds
                    grad = ins[k].grad
                    if k > 0 and self.hops[k] is not None:
                        t = meter.send(self.hops[k], 0, tensor_bytes(grad), False, 1.0, self.source, f"bwd{k}")
                        items.setdefault(f"bwd{k}", []).append(t)
            _step(self.opt)
            losses.append(loss_sum)
            per = np.array([np.mean(v) for v in items.values()])
            T += float(per.sum() + (self.m - 1) * per.max())
        return float(np.mean(losses)), T

    def evaluate(self):
        return accuracy(self.model, self.job.ds)


# ---------------------------------------------------------------- pel: parameter blocks

class PELEngine(Engine):
    """Worker k downloads its block, updates it on its data for the round's local iterations and
    uploads it; the server writes the blocks (averaged inside worker groups) into the global
    model. Under `compute: backprop` a block is whole units first..last: the worker runs the
    units below its block without gradients, the rest with gradients for its block's parameters
    only, so the backward stops at the block (the cost model's computation, exactly); a worker
    without a block sits the round out. Under `per_parameter` (PABA) a block is a run of the flat
    parameter vector that moves along it each round (whole layers stay put)."""
    paradigm = "pel"

    def build(self):
        d, cm = self.d, self.cm
        self.devices = list(d["devices"])
        self.model = self.job.model()
        self.glob = unit_modules(self.model, self.job.spec.model.input_shape).units
        self.glob_seq = nn.Sequential(*self.glob)            # the flat vector in unit order, as the replicas'
        self.P = sum(p.numel() for p in self.model.parameters())
        self.replicas = [[copy.deepcopy(u) for u in self.glob] for _ in self.devices]
        self.R = cm.routes(self.devices, [d["server"]] * len(self.devices))
        self.su = np.asarray(d["share_up"], float)
        self.sd = self.su if d.get("share_dn") is None else np.asarray(d["share_dn"], float)
        self.groups = PC.pel_groups(cm, self.devices)
        self.backprop = d.get("blocks") is not None
        if self.backprop:
            self.units = [None if d["blocks"][g[0]] is None else tuple(d["blocks"][g[0]]) for g in self.groups]
        else:
            Lk = np.round(np.asarray(d["params"], float)).astype(int)
            self.sizes = [int(Lk[g[0]]) for g in self.groups]
            self.sizes[-1] += self.P - sum(self.sizes)        # rounding remainder to the last block
        self.round_no = 0
        self.lr = self.job.spec.training.learning_rate

    @property
    def active(self) -> list[int]:
        """The workers that hold a block this round."""
        return [k for gi, g in enumerate(self.groups) if self.holds(gi) for k in g]

    def holds(self, gi: int) -> bool:
        return self.units[gi] is not None if self.backprop else self.sizes[gi] > 0

    def modules(self):
        out = {"global": self.model}
        out.update({f"replica{i}": nn.Sequential(*r) for i, r in enumerate(self.replicas)})
        return out

    def optimizers(self):
        return {}

    def state(self):
        s = super().state()
        s["round_no"] = self.round_no
        return s

    def load(self, s):
        super().load(s)
        self.round_no = s["round_no"]

    # -- blocks: what each group holds this round
    def blocks(self) -> list:
        """Per group: its units (first, last) under backprop, else its mask of the flat vector."""
        if self.backprop:
            return list(self.units)
        whole = self.job.spec.paradigms.pel.granularity == "layer"
        stride = 0 if whole else max(1, self.P // max(1, len(self.groups)))
        bounds = block_bounds(self.P, np.array(self.sizes), self.round_no * stride)
        return [block_mask(self.P, start, length) for start, length in bounds]

    def _params(self, units: list, block) -> list:
        first, last = block
        return [p for u in units[first - 1:last] for p in u.parameters()]

    def download(self, block) -> torch.Tensor:
        """The global model's block, as the flat vector that travels."""
        if self.backprop:
            return torch.cat([p.detach().reshape(-1) for p in self._params(self.glob, block)])
        return flat_params(self.glob_seq)[block]

    def work(self, k: int, vec: torch.Tensor, block) -> tuple[torch.Tensor, list[float]]:
        """Worker k: take the downloaded block into its replica, update it on its data for the
        round's local iterations (SGD with momentum, fresh each round), return it."""
        if not self.backprop:
            return self._work_flat(k, vec, block)
        rep = self.replicas[k]
        first, last = block
        mine = self._params(rep, block)
        _load(mine, vec)
        start = first + next(i for i, u in enumerate(rep[first - 1:last]) if any(True for _ in u.parameters()))
        for i, u in enumerate(rep):
            for p in u.parameters():
                p.requires_grad_(first - 1 <= i < last)
        opt = torch.optim.SGD(mine, lr=self.lr, momentum=0.9)
        lower, upper = nn.Sequential(*rep[:start - 1]), nn.Sequential(*rep[start - 1:])
        dev, losses = self.devices[k], []
        for _ in range(self.cm.tau):
            x, y = self.job.shards[dev].next(self.job.batch(dev))
            with torch.no_grad():                  # nothing below the block needs a gradient
                h = lower(x)
            opt.zero_grad(set_to_none=True)
            loss = LOSS(upper(h), y)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        for u in rep:
            for p in u.parameters():
                p.requires_grad_(True)
        return torch.cat([p.detach().reshape(-1) for p in mine]), losses

    def _work_flat(self, k, block, mask):
        rep = nn.Sequential(*self.replicas[k])
        vec = flat_params(rep)
        vec[mask] = block
        set_flat(rep, vec)
        buf = torch.zeros(int(mask.sum()))
        losses = []
        for _ in range(self.cm.tau):
            x, y = self.job.shards[self.devices[k]].next(self.job.batch(self.devices[k]))
            rep.zero_grad(set_to_none=True)
            loss = LOSS(rep(x), y)
            loss.backward()
            g = torch.cat([p.grad.reshape(-1) for p in rep.parameters()])[mask]
            buf.mul_(0.9).add_(g)
            vec = flat_params(rep)
            vec[mask] -= self.lr * buf
            set_flat(rep, vec)
            losses.append(float(loss.detach()))
        return flat_params(rep)[mask], losses

    def cascade(self, blocks, updates: dict[int, torch.Tensor]) -> None:
        """The server writes each group's block (its members' updates averaged) into the model."""
        if self.backprop:
            for gi, members in enumerate(self.groups):
                if self.holds(gi):
                    _load(self._params(self.glob, blocks[gi]), torch.stack([updates[k] for k in members]).mean(0))
        else:
            new = flat_params(self.glob_seq)
            for gi, members in enumerate(self.groups):
                new[blocks[gi]] = torch.stack([updates[k] for k in members]).mean(0)
            set_flat(self.glob_seq, new)
        self.round_no += 1

    def round(self, meter):
        blocks = self.blocks()
        updates, losses = {}, []
        for gi, members in enumerate(self.groups):
            if not self.holds(gi):
                continue                                     # idle: no download, compute or upload
            vec = self.download(blocks[gi])
            nbytes = vec.numel() * vec.element_size()
            for k in members:
                dev = self.devices[k]
                meter.send(self.R, k, nbytes, False, self.sd[k], dev, "download")
                with meter.compute(dev, dev, "compute"):
                    updates[k], ls = self.work(k, vec.clone(), blocks[gi])
                losses += ls
                meter.send(self.R, k, nbytes, True, self.su[k], dev, "upload")
        self.cascade(blocks, updates)
        T = max(meter.device_time(self.devices[k]) for k in self.active)
        return float(np.mean(losses)), T

    def evaluate(self):
        return accuracy(self.model, self.job.ds)


def _load(params: list, vec: torch.Tensor) -> None:
    k = 0
    with torch.no_grad():
        for p in params:
            n = p.numel()
            p.copy_(vec[k:k + n].view_as(p))
            k += n


ENGINES = {"fl": FLEngine, "sl": SLEngine, "psl": PSLEngine, "fpl": FPLEngine, "dsgd": DSGDEngine, "pel": PELEngine}


def train_centralized(job: Job, steps: int) -> tuple[float, float, float]:
    """The whole model trained by SGD on the devices' batches in split learning's order (each
    device in turn for its local iterations, then the next), `steps` batches: the reference for
    accuracy (sl equals it exactly) and for the overhead of partitioned training.
    Returns (test accuracy, test loss, wall seconds)."""
    import time
    model = job.model()
    opt = job.optimizer(model.parameters())
    devices = list(job.shards)
    shards = {d: Shard(job.ds, s.idx, s.seed) for d, s in job.shards.items()}   # fresh: the same draws
    tau = job.cm.tau
    with one_torch_thread():            # as the partitioned runs: one thread, comparable times
        t0 = time.perf_counter()
        for k in range(steps):
            dev = devices[(k // tau) % len(devices)]
            x, y = shards[dev].next(job.batch(dev))
            opt.zero_grad(set_to_none=True)
            LOSS(model(x), y).backward()
            opt.step()
        wall = time.perf_counter() - t0
    acc, loss = accuracy(model, job.ds)
    return acc, loss, wall
