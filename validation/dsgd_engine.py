"""dsgd: stages of one model along a path of nodes, trained as a pipeline of micro-batches; a
stage may be replicated over consecutive nodes (data parallel inside the stage)."""

from __future__ import annotations

import copy

import numpy as np
import torch
from edgeplan.dsgd_costs import smallest_microbatch
from edgeplan.errors import PlanError
from torch import nn

from .engine import LOSS, Engine, accuracy, opt_step, opt_zero, send_module
from .partition import unit_modules

# dsgd's phases, as the engine meters them: stage{k}.{i} (replica i of stage k computing), fwd{k} and
# bwd{k} (the hop into stage k), sc/sb{k}.{i} (the scatter on link i of stage k's group, and its
# gradients), ga/gb{k}.{i} (the gather), sync{k}.{i} (the replicas summing their gradients)
PHASE_KINDS = {"stage": "compute", "fwd": "forward transfer", "sc": "forward transfer", "ga": "forward transfer",
               "bwd": "backward transfer", "sb": "backward transfer", "gb": "backward transfer",
               "sync": "replicas' gradient sum"}


def phase_kind(phase: str) -> str | None:
    """What a dsgd phase is (one of PHASE_KINDS' values), None for another paradigm's phase."""
    head = phase.rstrip("0123456789.")
    return PHASE_KINDS.get(head) if head != phase else None


class DSGDEngine(Engine):
    """One model in stages along a path; each batch in micro-batches, forward through the stages
    and backward in GPipe's order, one optimizer step per batch. A replicated stage's replicas
    take equal shares of every micro-batch, handed along the group's links (the scatter) and
    collected the same way (the gather), and sum their gradients once per batch along the group
    (towards the first replica, then back) before they step: the cost model's dsgd replicas."""
    paradigm = "dsgd"

    def build(self):
        d, cm = self.d, self.cm
        self.model = self.job.model()
        units = unit_modules(self.model, self.job).units
        self.stages = [(n, a, b) for n, a, b in d["stages"]]
        self.groups = [list(g) for g in (d.get("replicas") or [[n] for n, _, _ in self.stages])]
        first = [nn.Sequential(*units[a - 1:b]) for _, a, b in self.stages]
        # replica 0 trains the model's own units; the others copies of them
        self.parts = [[p] + [copy.deepcopy(p) for _ in g[1:]] for p, g in zip(first, self.groups)]
        self.m = int(d["microbatches"])
        self.source = self.hub = d["source"]
        b = self.job.batch(self.source)
        smallest = smallest_microbatch(b, self.m)
        widest = max(len(g) for g in self.groups)
        if smallest < widest:
            raise PlanError(f"a micro-batch of {smallest} sample(s) (batch {b} in {self.m}) cannot feed a stage of "
                            f"{widest} replicas: use fewer paradigms.dsgd.microbatches or replicas, or a larger batch")
        self.devices = [self.source]
        path = list(d["path"])
        pos = {n: k for k, n in enumerate(path)}
        self.holders = [self.source] + [g[-1] for g in self.groups]   # hop k: holders[k] -> stage k
        self.hops = []
        for k, g in enumerate(self.groups):
            a, b = self.holders[k], g[0]
            self.hops.append(None if a == b else cm.routes([a], [b], concurrent=False, via=[path[pos[a]:pos[b] + 1]]))
        self.inner = [[cm.routes([a], [b], concurrent=False, via=[[a, b]]) for a, b in zip(g, g[1:])]
                      for g in self.groups]
        self.opt = self.job.optimizer(self.model.parameters())
        self.rep_opts = [[self.job.optimizer(p.parameters()) for p in parts[1:]] for parts in self.parts]

    def modules(self):
        out = {"model": self.model}
        out.update({f"stage{k}.replica{i}": p for k, parts in enumerate(self.parts) for i, p in enumerate(parts)
                    if i})
        return out

    def optimizers(self):
        out = {"model": self.opt}
        out.update({f"stage{k}.replica{i + 1}": o for k, os_ in enumerate(self.rep_opts) for i, o in enumerate(os_)})
        return out

    def _move(self, tx, tensors, a, b, R, fwd, phase):
        return tx.move(tensors if tx.here(a) else None, a, b, (R, 0, 1.0), fwd, self.source, phase)

    def _hop(self, tx, k: int, tensors, fwd: bool):
        """Across hop k (forward: the last node of stage k-1 to stage k's first; backward: back)."""
        if self.hops[k] is None:
            return tensors
        a, b = (self.holders[k], self.groups[k][0]) if fwd else (self.groups[k][0], self.holders[k])
        return self._move(tx, tensors, a, b, self.hops[k], fwd, f"{'fwd' if fwd else 'bwd'}{k}")

    def _pass(self, tx, k: int, shares: list, fwd: bool, low: bool, n: int, tag: str) -> list:
        """Shares of a micro-batch (each a list of n tensors, `shares[i]` replica i's) along stage
        k's group, link by link, forward or back; link i (replicas i, i+1) carries the shares of
        replicas 0..i (`low`) or i+1..r-1. Forward-high is the scatter, forward-low the gather,
        back-low the gather's gradients, back-high the scatter's. Each share ends where it
        belongs; a process fills in the shares it receives."""
        g, r = self.groups[k], len(self.groups[k])
        for i in (range(r - 1) if fwd else reversed(range(r - 1))):
            a, b = (g[i], g[i + 1]) if fwd else (g[i + 1], g[i])
            idx = list(range(0, i + 1)) if low else list(range(i + 1, r))
            flat = [t for j in idx for t in shares[j]] if tx.here(a) else None
            got = self._move(tx, flat, a, b, self.inner[k][i], fwd, f"{tag}{k}.{i}")
            if tx.here(b) and not tx.here(a):
                for c, j in enumerate(idx):
                    shares[j] = list(got[c * n:(c + 1) * n])
        return shares

    def _sync(self, tx, k: int) -> None:
        """Stage k's replicas sum their gradients: towards the first replica, then back."""
        g, parts = self.groups[k], self.parts[k]
        if len(g) == 1:
            return
        grads = [[p.grad if p.grad is not None else torch.zeros_like(p) for p in part.parameters()]
                 if tx.here(n) else None for n, part in zip(g, parts)]
        for i in reversed(range(len(g) - 1)):             # reduce: i + 1 -> i
            got = self._move(tx, grads[i + 1], g[i + 1], g[i], self.inner[k][i], False, f"sync{k}.{i}")
            if tx.here(g[i]):
                grads[i] = [x + y for x, y in zip(grads[i], got)]
        for i in range(len(g) - 1):                       # broadcast: i -> i + 1
            got = self._move(tx, grads[i], g[i], g[i + 1], self.inner[k][i], True, f"sync{k}.{i}")
            if tx.here(g[i + 1]):
                grads[i + 1] = got
        for n, part, gr in zip(g, parts, grads):
            if tx.here(n):
                for p, x in zip(part.parameters(), gr):
                    p.grad = x.detach().clone()

    def _split(self, k: int, tensors: list) -> list:
        """Equal shares of a micro-batch (or of its gradient), one per replica of stage k."""
        r = len(self.groups[k])
        parts = [torch.tensor_split(t, r) for t in tensors]
        return [[p[i] for p in parts] for i in range(r)]

    def round(self, tx):
        losses, n_st, src = [], len(self.stages), self.source
        opts = [self.opt] + [o for os_ in self.rep_opts for o in os_]
        for _ in range(self.cm.tau):
            x, y = self.data(tx, src)
            batch = self.job.batch(src)
            mbs = list(zip(torch.chunk(x, self.m), torch.chunk(y, self.m))) if tx.here(src) else [None] * self.m
            for o in opts:
                opt_zero(o)
            saved, part = [], [None] * len(self.groups[-1])    # the loss, per replica of the last stage
            for mb in mbs:                             # forward, micro-batch by micro-batch
                keep, cur = {}, mb
                for k, g in enumerate(self.groups):
                    cur = self._hop(tx, k, cur, True)
                    shares = self._split(k, list(cur)) if tx.here(g[0]) else [None] * len(g)
                    shares = self._pass(tx, k, shares, True, False, 2, "sc")
                    outs = [None] * len(g)
                    for i, n in enumerate(g):
                        if tx.here(n):
                            h, ym = shares[i]
                            inp = h.detach().requires_grad_(k > 0)
                            with tx.compute(n, src, f"stage{k}.{i}"):
                                out = self.parts[k][i](inp)
                                if k == n_st - 1:
                                    out = LOSS(out, ym.long()) * (len(ym) / batch)
                            keep[(k, i)] = (inp, out)
                            outs[i] = [out.detach(), ym]
                    if k < n_st - 1:                   # the last stage's loss stays where it is
                        outs = self._pass(tx, k, outs, True, True, 2, "ga")
                        cur = [torch.cat([o[0] for o in outs]), torch.cat([o[1] for o in outs])] \
                            if tx.here(g[-1]) else None
                saved.append(keep)
            for keep in saved:                         # backward, in the same order
                grad = None
                for k in reversed(range(n_st)):
                    g = self.groups[k]
                    gs = [None] * len(g)
                    if k < n_st - 1:                   # the output's gradient, from the last replica back
                        gs = self._split(k, [grad]) if tx.here(g[-1]) else gs
                        gs = self._pass(tx, k, gs, False, True, 1, "gb")
                    ins = [None] * len(g)
                    for i, n in enumerate(g):
                        if tx.here(n):
                            inp, out = keep[(k, i)]
                            with tx.compute(n, src, f"stage{k}.{i}"):
                                if out.requires_grad:     # a first stage without parameters trains nothing
                                    out.backward() if k == n_st - 1 else out.backward(gs[i][0])
                            if k == n_st - 1:
                                part[i] = (part[i] or 0.0) + float(out.detach())
                            ins[i] = [inp.grad]
                    if k > 0:                          # the input's gradient, to the first replica and back
                        ins = self._pass(tx, k, ins, False, False, 1, "sb")
                        grad = torch.cat([s_[0] for s_ in ins]) if tx.here(g[0]) else None
                        got = self._hop(tx, k, [grad] if tx.here(g[0]) else None, False)
                        grad = got[0] if got else None
            for k in range(n_st):
                self._sync(tx, k)
            for o in opts:
                opt_step(o)
            losses.append(_fold([p for p in part if p is not None]))
        for k, (node, _, _) in enumerate(self.stages):   # the stages' weights to the source, for the test
            send_module(tx, self.parts[k][0], node, src)
        return losses

    def merge_losses(self, per_rank: list[list]) -> list:
        """Per step, the last stage's replicas' losses summed in replica (= rank) order."""
        return [_fold([x for x in col if x is not None]) for col in zip(*per_rank)]

    def latency(self, meter):
        """GPipe: per batch the sum of the per-micro-batch items (each stage, each hop, each
        link of a replicated stage) plus (m - 1) times the largest; a replicated stage's item is
        its slowest replica; the replicas' gradient sums once per batch."""
        per: dict[str, float] = {}
        sync = 0.0
        for e in meter.events:
            if phase_kind(e.phase) == PHASE_KINDS["sync"]:
                sync += e.seconds
            else:
                per[e.phase] = per.get(e.phase, 0.0) + e.seconds
        stage: dict[str, float] = {}                  # stage k's item: its slowest replica
        for ph in [ph for ph in per if phase_kind(ph) == PHASE_KINDS["stage"]]:
            key = ph.split(".")[0]
            stage[key] = max(stage.get(key, 0.0), per.pop(ph))
        per.update(stage)
        items = np.array(list(per.values())) / (self.cm.tau * self.m)
        pipe = float(self.cm.tau * (items.sum() + (self.m - 1) * items.max())) if len(items) else 0.0
        return pipe + sync

    def evaluate(self):
        return accuracy(self.model, self.job.ds)


def _fold(xs: list):
    """Left-to-right sum (the same order in every transport), None for nothing."""
    out = None
    for x in xs:
        out = x if out is None else out + x
    return out
