"""dsgd: stages of one model along a path of nodes, trained as a pipeline of micro-batches."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .engine import LOSS, Engine, accuracy, opt_step, opt_zero, send_module
from .partition import unit_modules


class DSGDEngine(Engine):
    """One model in stages along a path; each batch in micro-batches, forward through the stages
    and backward in GPipe's order, one optimizer step per batch."""
    paradigm = "dsgd"

    def build(self):
        d, cm = self.d, self.cm
        self.model = self.job.model()
        units = unit_modules(self.model, self.job.spec.model.input_shape).units
        self.stages = [(n, a, b) for n, a, b in d["stages"]]
        self.parts = [nn.Sequential(*units[a - 1:b]) for _, a, b in self.stages]
        self.m = int(d["microbatches"])
        self.source = self.hub = d["source"]
        self.devices = [self.source]
        path = list(d["path"])
        pos = {n: k for k, n in enumerate(path)}
        self.holders = [self.source] + [s[0] for s in self.stages]   # hop k: holders[k] -> stage k
        self.hops = []
        for k in range(len(self.stages)):
            a, b = self.holders[k], self.holders[k + 1]
            self.hops.append(None if a == b else cm.routes([a], [b], concurrent=False, via=[path[pos[a]:pos[b] + 1]]))
        self.opt = self.job.optimizer(self.model.parameters())

    def modules(self):
        return {"model": self.model}

    def optimizers(self):
        return {"model": self.opt}

    def _hop(self, tx, k: int, tensors, fwd: bool):
        """Across hop k (forward: holder of k-1 to stage k; backward: the other way)."""
        if self.hops[k] is None:
            return tensors
        a, b = (self.holders[k], self.holders[k + 1]) if fwd else (self.holders[k + 1], self.holders[k])
        return tx.move(tensors if tx.here(a) else None, a, b, (self.hops[k], 0, 1.0), fwd, self.source,
                       f"{'fwd' if fwd else 'bwd'}{k}")

    def round(self, tx):
        losses, n_st, src = [], len(self.stages), self.source
        for _ in range(self.cm.tau):
            x, y = self.data(tx, src)
            batch = self.job.batch(src)
            mbs = list(zip(torch.chunk(x, self.m), torch.chunk(y, self.m))) if tx.here(src) else [None] * self.m
            opt_zero(self.opt)
            saved, loss = [], None
            for mb in mbs:                             # forward, micro-batch by micro-batch
                keep, cur = {}, mb
                for k, (node, _, _) in enumerate(self.stages):
                    cur = self._hop(tx, k, cur, True)
                    if tx.here(node):
                        h, ym = cur
                        inp = h.detach().requires_grad_(k > 0)
                        with tx.compute(node, src, f"stage{k}"):
                            out = self.parts[k](inp)
                            if k == n_st - 1:
                                out = LOSS(out, ym) * (len(ym) / batch)
                        keep[k] = (inp, out)
                        cur = [out.detach(), ym]
                saved.append(keep)
            for keep in saved:                         # backward, in the same order
                grad = None
                for k in reversed(range(n_st)):
                    node = self.stages[k][0]
                    if tx.here(node):
                        inp, out = keep[k]
                        with tx.compute(node, src, f"stage{k}"):
                            out.backward() if k == n_st - 1 else out.backward(grad)
                        if k == n_st - 1:
                            loss = (loss or 0.0) + float(out.detach())
                        grad = inp.grad
                    if k > 0:
                        got = self._hop(tx, k, [grad] if tx.here(node) else None, False)
                        grad = got[0] if got else None
            opt_step(self.opt)
            losses.append(loss)
        for k, (node, _, _) in enumerate(self.stages):   # the stages' weights to the source, for the test
            send_module(tx, self.parts[k], node, src)
        return losses

    def latency(self, meter):
        """GPipe: per batch the sum of the per-micro-batch items (each stage, each hop) plus
        (m - 1) times the largest."""
        per: dict[str, float] = {}
        for e in meter.events:
            per[e.phase] = per.get(e.phase, 0.0) + e.seconds
        items = np.array(list(per.values())) / (self.cm.tau * self.m)
        return float(self.cm.tau * (items.sum() + (self.m - 1) * items.max())) if len(items) else 0.0

    def evaluate(self):
        return accuracy(self.model, self.job.ds)
