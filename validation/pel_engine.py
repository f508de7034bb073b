"""pel: each worker updates a block of the model's parameters with its share of the bandwidth."""

from __future__ import annotations

import copy

import numpy as np
import torch
from edgeplan import pel_costs as PC
from torch import nn

from .engine import LOSS, Engine, accuracy, opt_step, opt_zero
from .partition import (
    block_bounds,
    block_mask,
    flat_of,
    flat_params,
    flat_state,
    load_into,
    set_flat,
    set_state,
    state_tensors,
    unit_modules,
)


class PELEngine(Engine):
    """Worker k downloads its block (with `download: model` the whole current model) into its
    replica, updates the block on its data for the round's local iterations and uploads it; the
    server writes the blocks (averaged inside worker groups) into the global model. Under
    `compute: backprop` a block is whole units first..last: the worker runs the units below its
    block without gradients, the rest with gradients for its block's parameters only, so the
    backward stops at the block (the cost model's computation, exactly); a worker without a
    block sits the round out. Under `per_parameter` (PABA) a block is a run of the flat
    parameter vector that moves along it each round (whole layers stay put)."""
    paradigm = "pel"
    keeps_optimizer = False

    def build(self):
        d, cm = self.d, self.cm
        self.devices = list(d["devices"])
        self.model = self.job.model()
        self.glob = unit_modules(self.model, self.job).units
        self.glob_seq = nn.Sequential(*self.glob)            # the flat vector in unit order, as the replicas'
        self.P = sum(p.numel() for p in self.model.parameters())
        self.replicas = [[copy.deepcopy(u) for u in self.glob] for _ in self.devices]
        self.server = self.hub = d["server"]
        self.R = cm.routes(self.devices, [self.server] * len(self.devices))
        self.su = np.asarray(d["share_up"], float)
        self.sd = self.su if d.get("share_dn") is None else np.asarray(d["share_dn"], float)
        self.groups = PC.pel_groups(cm, self.devices)
        self.backprop = d.get("blocks") is not None
        self.whole = PC.whole_model_down(cm)
        if self.backprop:
            self.units = [None if d["blocks"][g[0]] is None else tuple(d["blocks"][g[0]]) for g in self.groups]
        else:
            Lk = np.round(np.asarray(d["params"], float)).astype(int)
            self.sizes = [int(Lk[g[0]]) for g in self.groups]
            self.sizes[-1] += self.P - sum(self.sizes)        # rounding remainder to the last block
        self.lr = self.job.spec.training.learning_rate

    @property
    def active(self) -> list[int]:
        """The workers that hold a block this round."""
        return [k for gi, g in enumerate(self.groups) if self.holds(gi) for k in g]

    @property
    def timeline(self):
        return [self.devices[k] for k in self.active]

    def holds(self, gi: int) -> bool:
        return self.units[gi] is not None if self.backprop else self.sizes[gi] > 0

    def modules(self):
        out = {"global": self.model}
        out.update({f"replica{i}": nn.Sequential(*r) for i, r in enumerate(self.replicas)})
        return out

    def optimizers(self):
        return {}

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

    def _state(self, units: list, block) -> list:
        """What a block of units moves: its parameters and floating buffers (partition.state_tensors)."""
        first, last = block
        return state_tensors(nn.Sequential(*units[first - 1:last]))

    def download(self, block) -> torch.Tensor:
        """What travels down, as a flat vector: the block, or the whole model (`download: model`)."""
        if self.whole:
            return flat_state(self.glob_seq)
        if self.backprop:
            return flat_of(self._state(self.glob, block))
        return flat_params(self.glob_seq)[block]

    def work(self, k: int, vec: torch.Tensor, block) -> tuple[torch.Tensor, list[float]]:
        """Worker k: take the download into its replica, update its block on its data for the
        round's local iterations (SGD with momentum, fresh each round), return the block."""
        if not self.backprop:
            return self._work_flat(k, vec, block)
        rep = self.replicas[k]
        first, last = block
        mine = self._params(rep, block)
        if self.whole:
            set_state(nn.Sequential(*rep), vec)
        else:
            load_into(self._state(rep, block), vec)
        # the backward starts at the block's first unit with parameters (none: it starts at the top)
        start = first + next((i for i, u in enumerate(rep[first - 1:last]) if any(True for _ in u.parameters())),
                             last - first)
        for i, u in enumerate(rep):
            for p in u.parameters():
                p.requires_grad_(first - 1 <= i < last)
        opt = torch.optim.SGD(mine, lr=self.lr, momentum=0.9) if mine else None
        lower, upper = nn.Sequential(*rep[:start - 1]), nn.Sequential(*rep[start - 1:])
        dev, losses = self.devices[k], []
        for _ in range(self.cm.tau):
            x, y = self.job.shards[dev].next(self.job.batch(dev))
            with torch.no_grad():                  # nothing below the block needs a gradient
                h = lower(x)
            opt_zero(opt)
            loss = LOSS(upper(h), y)
            if mine:
                loss.backward()
            opt_step(opt)
            losses.append(float(loss.detach()))
        for u in rep:
            for p in u.parameters():
                p.requires_grad_(True)
        return flat_of(self._state(rep, block)), losses

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
                    load_into(self._state(self.glob, blocks[gi]), torch.stack([updates[k] for k in members]).mean(0))
        else:
            new = flat_params(self.glob_seq)
            for gi, members in enumerate(self.groups):
                new[blocks[gi]] = torch.stack([updates[k] for k in members]).mean(0)
            set_flat(self.glob_seq, new)

    def round(self, tx):
        blocks = self.blocks()
        where = {k: gi for gi, g in enumerate(self.groups) for k in g}
        srv, got, updates, losses = self.server, {}, {}, []
        for k in self.active:             # every active worker's block down (idle ones sit the round out)
            dev = self.devices[k]
            vec = [self.download(blocks[where[k]])] if tx.here(srv) else None
            got[k] = tx.move(vec, srv, dev, (self.R, k, self.sd[k]), False, dev, "download")
        for k in self.active:             # updated on the worker, back up
            dev, upd = self.devices[k], None
            if tx.here(dev):
                with tx.compute(dev, dev, "compute"):
                    new, ls = self.work(k, got[k][0].clone(), blocks[where[k]])
                losses += ls
                upd = [new]
            upd = tx.move(upd, dev, srv, (self.R, k, self.su[k]), True, dev, "upload")
            if tx.here(srv):
                updates[k] = upd[0]
        if tx.here(srv):
            self.cascade(blocks, updates)
        return losses

    def evaluate(self):
        return accuracy(self.model, self.job.ds)

