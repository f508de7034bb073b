"""pel's round (the cost model's partitioned edge learning), under two compute models.

- `per_parameter` (PABA's model, `paradigms.pel.compute: per_parameter`): worker k's compute is
  proportional to its block, L_k c_k / f_k.
- `backprop` (the default, true for DNNs): per local iteration worker k runs the forward pass over
  every unit, the backward pass from the top down to the first unit of its block (above its block
  only the input gradients, inside it the full backward, at its first unit only the weight
  gradients: nothing below needs a gradient), and the update of its block. Blocks are whole
  units, a contiguous range per worker group; a worker without a block is idle: it downloads,
  computes and uploads nothing, and its samples do not count.

A worker downloads its block (`L_k Q` bits; `paradigms.pel.download: block`, the default) and
the rest of its replica is what earlier rounds left there: under backprop, whose blocks stay put,
the initial weights, so each block trains against layers that never learn (bench_accuracy: pel
with 2 or 3 workers near chance on three of four settings). `download: model` (backprop only)
sends the whole current model instead (`P Q` bits). Either way it uploads its block's update.
"""

from __future__ import annotations

import numpy as np

from .costs import CostModel, Costs, Routes, _check_shares
from .errors import PlanError


def pel_setup(cm: CostModel) -> tuple[float, float, float | None]:
    """(P parameters, Q bits per parameter, c FLOPs per parameter per round or None)."""
    p = cm.scn.spec.paradigms.pel
    return float(cm.table.total_params), float(p.bits_per_parameter), p.flops_per_parameter


def backprop(cm: CostModel) -> bool:
    return cm.scn.spec.paradigms.pel.compute == "backprop"


def pel_time_per_param(cm: CostModel, d) -> np.ndarray:
    """per_parameter: compute seconds per parameter per round of each worker: c / f_k with the
    scenario's flops_per_parameter, else the worker's time to train one round's batches over the
    whole model divided by the parameters (b tau S_k(L) / P)."""
    P, _, c = pel_setup(cm)
    d = np.asarray(d, int)
    if c is None:
        return cm.tau * cm.span(d, 0, cm.L, cm.batch[d], update=False) / max(P, 1.0)   # PABA: FLOPs only
    if cm.table.F[-1] <= 0:
        raise ValueError("paradigms.pel.flops_per_parameter needs FLOP rates, but the model's profile is "
                         "measured (no FLOP counts): leave flops_per_parameter out")
    return np.array([c / cm.flops_rate(v) for v in d])


def pel_groups(cm: CostModel, devices: list[str]) -> list[list[int]]:
    """Worker groups (positions in `devices`): the scenario's pel groups, others alone."""
    groups = cm.scn.spec.paradigms.pel.groups or {}
    if not groups:                              # every worker alone (a fleet: no per-name work)
        return [[i] for i in range(len(devices))]
    pos = {n: i for i, n in enumerate(devices)}
    seen, out = set(), []
    for members in groups.values():
        g = [pos[m] for m in members if m in pos and m not in seen]
        seen |= {devices[i] for i in g}
        if g:
            out.append(g)
    out += [[i] for i, n in enumerate(devices) if n not in seen]
    return out


class Backprop:
    """Prefix sums of the per-unit times that `backprop` compute adds up, per node (V x (L+1))."""

    def __init__(self, cm: CostModel):
        u = cm.unit_times
        self.fw = u["fwd"].sum(axis=1)                               # the whole forward, per sample
        self.IN = np.cumsum(u["bwd_in"], axis=1)                     # input-gradient parts
        self.BW = np.cumsum(u["bwd"], axis=1)                        # full backward
        self.WG = u["bwd"] - u["bwd_in"]                             # weight-gradient part per unit
        self.UP = np.cumsum(u["upd"], axis=1)                        # update per sample (measured)
        self.update = cm.update                                      # the optimizer step (FLOP rates)
        self.CF = u["call_fwd"].sum(axis=1)                          # every unit's forward call
        self.CB = np.cumsum(u["call_bwd"], axis=1)                   # backward calls
        self.L = cm.L
        # the backward stops at the block's first unit that has parameters
        has = cm.table.params > 0
        nxt = np.full(cm.L + 2, cm.L)
        for u_ in range(cm.L, 0, -1):
            nxt[u_] = u_ if has[u_] else nxt[u_ + 1]
        self.first_param = nxt

    def iteration(self, v, b, first, last):
        """Seconds of one local iteration of node(s) v with batch b on the block of units
        first..last (arrays broadcast; first = 0 means no block, 0 seconds)."""
        v, b, s, e = (np.asarray(a) for a in (v, b, first, last))
        e1 = np.maximum(e, 1)
        s1 = np.minimum(self.first_param[np.maximum(s, 1)], e1)
        L = self.L
        back = (self.IN[v, L] - self.IN[v, e1]) + (self.BW[v, e1] - self.BW[v, s1]) + self.WG[v, s1]
        upd = b * (self.UP[v, e1] - self.UP[v, s1 - 1]) + self.update(v, s1 - 1, e1)
        calls = self.CF[v] + (self.CB[v, L] - self.CB[v, s1 - 1])
        return np.where(s > 0, b * (self.fw[v] + back) + upd + calls, 0.0)


def block_params(cm: CostModel, first, last) -> np.ndarray:
    """Parameters of the units first..last (0 where first is 0: no block)."""
    return _block_sum(np.cumsum(cm.table.params), first, last)


def block_values(cm: CostModel, first, last) -> np.ndarray:
    """Values a block of units first..last moves: its parameters and its floating buffers (a batch
    norm's running statistics travel with the layer they belong to; Q bits each)."""
    return _block_sum(np.cumsum(unit_values(cm)), first, last)


def unit_values(cm: CostModel) -> np.ndarray:
    t = cm.table
    return t.params + t.bbytes / t.bytes_per_value


def _block_sum(prefix: np.ndarray, first, last) -> np.ndarray:
    s, e = np.asarray(first), np.asarray(last)
    return np.where(s > 0, prefix[np.maximum(e, 0)] - prefix[np.maximum(s - 1, 0)], 0.0)


def check_blocks(cm: CostModel, devs: list[str], groups: list[list[int]], blocks) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) units per device from `blocks` ([first, last] or None per device): every
    group one block, the groups' blocks contiguous ranges covering every unit exactly once."""
    n = len(devs)
    if blocks is None or len(blocks) != n:
        raise PlanError(f"pel with compute: backprop needs a block of units ([first, last], or none) for each of the "
                        f"{n} workers")
    first, last = np.zeros(n, int), np.zeros(n, int)
    for i, b in enumerate(blocks):
        if b is None:
            continue
        if not (isinstance(b, (list, tuple)) and len(b) == 2 and all(isinstance(x, (int, np.integer))
                                                                      and not isinstance(x, bool) for x in b)):
            raise PlanError(f"{devs[i]}: block {b!r} must be [first unit, last unit] (integers) or null")
        if not 1 <= b[0] <= b[1] <= cm.L:
            raise PlanError(f"{devs[i]}: block {list(b)} out of range: units are 1..{cm.L}")
        first[i], last[i] = b
    spans = []
    for g in groups:
        if len({(first[i], last[i]) for i in g}) != 1:
            raise PlanError(f"workers {', '.join(devs[i] for i in g)} form a group and train one block: give them "
                            "the same units")
        if first[g[0]]:
            spans.append((first[g[0]], last[g[0]]))
    spans.sort()
    expect = 1
    for a, b in spans:
        if a != expect:
            what = f"units {expect}..{a - 1} are in no block" if a > expect else f"unit {a} is in two blocks"
            raise PlanError(f"the blocks must cover units 1..{cm.L} exactly once: {what}")
        expect = b + 1
    if expect != cm.L + 1:
        raise PlanError(f"the blocks must cover units 1..{cm.L} exactly once: units {expect}..{cm.L} are in no block")
    return first, last


def pel(cm: CostModel, params, share_up=None, share_dn=None, server: str | None = None,
        devices: list[str] | None = None, blocks=None) -> Costs:
    """Partitioned edge learning: worker k downloads, updates and uploads its block of L_k
    parameters over bandwidth share beta_k (the same share both ways unless bandwidth is
    'separate'). With compute `backprop`, `blocks` gives each worker's units ([first, last] or
    None: idle) and L_k follows from them."""
    devs = devices or cm.devices
    n = len(devs)
    srv = server or cm.server()
    R = cm.routes(devs, [srv] * n)
    P, Q, _ = pel_setup(cm)
    groups = pel_groups(cm, devs)
    first = last = None
    if backprop(cm):
        first, last = check_blocks(cm, devs, groups, blocks)
        Lk = block_params(cm, first, last)
        Vk = block_values(cm, first, last)
    else:
        Lk = np.asarray(params, float)
        if Lk.shape != (n,) or not np.all(np.isfinite(Lk)) or np.any(Lk < 0):
            raise PlanError(f"expected {n} non-negative parameter counts, got {Lk}")
        for g in (g for g in groups if len(g) > 1):       # a group of one has nothing to compare
            if np.ptp(Lk[g]) > 1e-9 * max(1.0, Lk[g].max()):
                raise PlanError(f"workers {', '.join(devs[i] for i in g)} form a group and train one block: "
                                "give them equal parameter counts")
        covered = sum(float(Lk[g[0]]) for g in groups)
        if abs(covered - P) > 1e-6 * P + 0.5:
            raise PlanError(f"the workers' blocks cover {covered:.0f} of the model's {P:.0f} parameters; "
                            "they must cover all of them exactly once")
        Vk = Lk
    su = cm.equal_shares(devs, R) if share_up is None else np.asarray(share_up, float)
    separate = cm.scn.spec.paradigms.pel.bandwidth == "separate"
    sd = (su if share_dn is None else np.asarray(share_dn, float)) if separate else su
    _check_shares(cm, devs, R, su)
    if separate:
        _check_shares(cm, devs, R, sd)
    d = cm.ix(devs)
    t = pel_terms(cm, R, d, Lk, Vk, su, sd, Q, first, last)
    active = Lk > 0
    starved = np.flatnonzero(active & ~np.isfinite(t["T"]))
    if len(starved):
        i = starved[0]
        raise PlanError(f"{devs[i]} has a block of {Lk[i]:,.0f} parameters but no channel share to move it")
    x, y = Vk * Q / 8.0, down_bytes(cm, Vk)
    compute = dict(zip(devs, t["compute"]))
    transfers = [(R, i, x[i], y[i], su[i]) for i in range(n)] if not separate else \
        [(R, i, x[i], 0.0, su[i]) for i in range(n)] + [(R, i, 0.0, y[i], sd[i]) for i in range(n)]
    if first is None:
        mem = {nm: cm.kopt * x[i] for i, nm in enumerate(devs)}
    else:   # the whole replica, the block's gradients and optimizer state, activations from its first unit up
        b = cm.batch[d]
        s = np.maximum(first, 1)
        mem = {nm: (cm.Wt[cm.L] + (cm.kopt - 1) * Lk[i] * cm.table.bytes_per_value
                    + b[i] * (cm.A[cm.L] - cm.A[s[i] - 1])) if active[i] else 0.0 for i, nm in enumerate(devs)}
    phases = {k: t[k] for k in ("download", "compute", "upload")}
    return cm.finish("pel", float(t["T"].max()), devs, t["T"], phases, compute, transfers, mem, active=active)


def pel_terms(cm: CostModel, R: Routes, d, Lk, V, share_up, share_dn, Q, first=None,
              last=None) -> dict[str, np.ndarray]:
    """Each worker's round and its phases (0 for an idle worker); `V` the values its block moves
    (`block_values`; its parameters under per_parameter)."""
    x = V * Q / 8.0
    with np.errstate(invalid="ignore"):
        dl = np.where(Lk > 0, R.time(down_bytes(cm, V), share_dn, False), 0.0)
        ul = np.where(Lk > 0, R.time(x, share_up, True), 0.0)
    if first is None:
        comp = Lk * pel_time_per_param(cm, d)
    else:
        comp = cm.tau * backprop_model(cm).iteration(d, cm.batch[d], first, last)
    return {"T": dl + comp + ul, "download": dl, "compute": comp, "upload": ul}


def whole_model_down(cm: CostModel) -> bool:
    return cm.scn.spec.paradigms.pel.download == "model"


def down_bytes(cm: CostModel, values) -> np.ndarray:
    """Bytes each worker downloads a round: its block (`values`: what it moves, see
    `block_values`), or the whole model with `download: model` (0 for a worker without a block)."""
    _, Q, _ = pel_setup(cm)
    V = np.asarray(values, float)
    if whole_model_down(cm):
        return np.where(V > 0, float(unit_values(cm).sum()) * Q / 8.0, 0.0)
    return V * Q / 8.0


def backprop_model(cm: CostModel) -> Backprop:
    if "pel_backprop" not in cm.memo:
        cm.memo["pel_backprop"] = Backprop(cm)
    return cm.memo["pel_backprop"]
