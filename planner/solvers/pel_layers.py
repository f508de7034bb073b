"""pel solvers under `compute: backprop`: blocks of whole units, a contiguous range per worker
group, bandwidth shares; minimise the round.

The units with parameters are the M *layers*; a block is a range of layers i..j (the units with
no parameters join the block before them). For a round time T, the group g holding layers i..j
needs the least channel share c_g(i, j; T) (its members' compute, latencies and transfers are
fixed by the range, so the share follows in closed form on spectral links, by bisection on
Shannon links: planner.solvers.shares.least_shares); T is achievable iff some cover of the layers
by ranges, each held by a different group, needs shares summing to at most 1 on the channel.

- `joint` (exact): bisection on T around that cover, solved exactly by dynamic programming over
  (layers covered, how many groups of each kind are in use): groups with identical costs are
  interchangeable, and no more than M are ever used, so the states stay few for fleets of a few
  kinds of device. Where they would not (many distinct workers) it switches to the heuristic.
- `heuristic`: the same DP with groups reusable (a relaxation: its T is a lower bound), its cover
  then given the cheapest unused group for each range; bisection on T. The plan reports the bound
  and the gap.
- `milp`: the reference: bisection on T around the cover as a pyomo + HiGHS MILP (a binary per
  group and range); also the method for workers on several channels.
- `equal`, `bandwidth_aware`, `parameter_aware`: PABA's schemes with whole-unit blocks.
"""

from __future__ import annotations

import numpy as np

from ..costs import CostModel
from ..errors import InfeasibleError
from ..pel_costs import backprop_model, block_values, down_bytes, pel_groups, pel_setup
from .common import Solution
from .shares import channel_positions, fixed_part, least_shares, minmax_time

STATE_BUDGET = 3e7          # DP work (states x kinds x ranges) above which `joint` uses the heuristic


class LayerInstance:
    """The layers, the ranges and each worker's fixed time and bytes per range."""

    def __init__(self, cm: CostModel, devices=None, server=None):
        self.cm = cm
        self.devices = list(devices or cm.devices)
        self.server = server or cm.server()
        n = len(self.devices)
        self.R = R = cm.routes(self.devices, [self.server] * n)
        _, self.Q, _ = pel_setup(cm)
        self.groups = pel_groups(cm, self.devices)
        params = cm.table.params
        self.layers = [u for u in range(1, cm.L + 1) if params[u] > 0]
        M = self.M = len(self.layers)
        if M == 0:
            raise InfeasibleError("the model has no parameters: pel has nothing to partition")
        starts = [1] + self.layers[1:]
        ends = [s - 1 for s in self.layers[1:]] + [cm.L]
        self.first = np.array(starts)            # first unit of a range starting at layer i
        self.last = np.array(ends)               # last unit of a range ending at layer j
        P = np.concatenate([[0.0], np.cumsum(params[self.layers])])
        ii, jj = np.meshgrid(np.arange(M), np.arange(M), indexing="ij")
        self.valid = jj >= ii
        self.params = np.where(self.valid, P[jj + 1] - P[ii], 0.0)                 # (M, M)
        values = np.where(self.valid, block_values(cm, self.first[ii], self.last[jj]), 0.0)   # parameters, buffers
        x = values * self.Q / 8.0                               # bytes up: the block
        y = down_bytes(cm, values)                              # down: the block, or the whole model
        d = cm.ix(self.devices)
        bp = backprop_model(cm)
        comp = cm.tau * bp.iteration(d[:, None, None], cm.batch[d][:, None, None],
                                     self.first[ii][None], self.last[jj][None])   # (n, M, M)
        self.A, self.U, self.D = fixed_part(R, comp, [np.broadcast_to(x, comp.shape)],
                                            [np.broadcast_to(y, comp.shape)])
        self.A = np.where(self.valid[None], self.A, np.inf)
        self.channels = channel_positions(R)
        self._kinds()

    def _kinds(self):
        """Groups with identical costs (members' fixed times, bytes and routes) are one kind."""
        R = self.R
        keys = {}
        self.kind_of = []
        eta = np.nan_to_num(R.eta, nan=-1.0).tolist()     # once for the fleet, not per worker
        lat, fu, fd, has, bw = R.lat.tolist(), R.fix_up.tolist(), R.fix_dn.tolist(), R.has_ch.tolist(), R.bw.tolist()
        su, sd, A = R.snr_up.tolist(), R.snr_dn.tolist(), self.A.reshape(len(self.A), -1)
        for g in self.groups:
            key = tuple(sorted((A[k].tobytes(), lat[k], fu[k], fd[k], has[k], bw[k], eta[k], su[k], sd[k],
                                R.channel[k]) for k in g))
            self.kind_of.append(keys.setdefault(key, len(keys)))
        self.kinds = len(keys)
        self.members = [[] for _ in range(self.kinds)]
        for gi, k in enumerate(self.kind_of):          # linear: fleets have thousands of kinds
            self.members[k].append(gi)

    def costs(self, T: float, groups=None, shares=None) -> np.ndarray:
        """(groups, M, M): the least channel share each group (of `groups`, default all) needs
        for each range at T (inf: not by T at all; 0 off any channel). `shares`: every worker's
        least_shares at T, when the caller has them already."""
        gs = range(len(self.groups)) if groups is None else groups
        if getattr(self, "_alone", None) is None:
            self._alone = all(len(g) == 1 and g[0] == i for i, g in enumerate(self.groups)) and \
                len(self.groups) == len(self.devices)
        if groups is None and self._alone:
            # every worker its own group, in order (fleets): one vectorised call, no regrouping
            beta = least_shares(self.R, self.A, self.U, self.D, T) if shares is None else shares
            return np.where(self.valid[None], beta, np.inf)
        workers = np.array(sorted({k for gi in gs for k in self.groups[gi]}))
        where = {k: p for p, k in enumerate(workers)}
        beta = least_shares(_subset(self.R, workers), self.A[workers], self.U[workers], self.D[workers], T)
        out = np.stack([beta[[where[k] for k in self.groups[gi]]].sum(axis=0) for gi in gs])
        return np.where(self.valid[None], out, np.inf)

    def kind_costs(self, T: float) -> np.ndarray:
        """(kinds, M, M): `costs` of one group of each kind (they are all alike)."""
        return self.costs(T, [m[0] for m in self.members])

    def lower_T(self) -> float:
        """No round is shorter than the fastest worker's fixed time for its cheapest range."""
        return float(np.min(self.A[np.isfinite(self.A)]))

    def decisions(self, cover: list[tuple[int, int, int]], T: float) -> dict:
        """Blocks and shares of a cover [(group, i, j)]: each active worker its least share at
        T, the channel's leftover spread over the active workers."""
        n = len(self.devices)
        blocks: list = [None] * n
        A, U, D = (np.zeros(n) for _ in range(3))
        active = np.zeros(n, bool)
        for gi, i, j in cover:
            for k in self.groups[gi]:
                blocks[k] = [int(self.first[i]), int(self.last[j])]
                A[k], U[k], D[k] = self.A[k, i, j], self.U[k, i, j], self.D[k, i, j]
                active[k] = True
        beta = np.where(active, least_shares(self.R, A, U, D, T), 0.0)
        for pos in self.channels.values():
            on = pos[active[pos]]
            tot = beta[on].sum()
            if len(on) and tot > 0:
                beta[on] = beta[on] / tot
            elif len(on):
                beta[on] = 1.0 / len(on)
        return {"devices": self.devices, "server": self.server, "params": self.block_params(blocks),
                "share_up": beta, "share_dn": None, "blocks": blocks}

    def block_params(self, blocks) -> np.ndarray:
        from ..pel_costs import block_params
        f = np.array([b[0] if b else 0 for b in blocks])
        e = np.array([b[1] if b else 0 for b in blocks])
        return block_params(self.cm, f, e)


# ---------------------------------------------------------------- the cover at a given T

def _subset(R, idx):
    """The routes of some workers only (least_shares reads per-route coefficients)."""
    import dataclasses
    return dataclasses.replace(R, lat=R.lat[idx], fix_up=R.fix_up[idx], fix_dn=R.fix_dn[idx], has_ch=R.has_ch[idx],
                               bw=R.bw[idx], eta=R.eta[idx], snr_up=R.snr_up[idx], snr_dn=R.snr_dn[idx])


class CoverDP:
    """Least total share of a cover of layers 0..M-1 by ranges held by distinct groups, for every
    number of groups in use, by DP over (layers covered, groups of each kind in use)."""

    def __init__(self, inst: LayerInstance):
        self.inst = inst
        M = inst.M
        self.cap = np.array([min(len(m), M) for m in inst.members])
        self.stride = np.concatenate([[1], np.cumprod(self.cap + 1)[:-1]]).astype(int)
        self.S = int(np.prod(self.cap + 1))
        codes = np.arange(self.S)
        counts = (codes[:, None] // self.stride[None]) % (self.cap + 1)[None]     # (S, kinds)
        self.used = counts.sum(axis=1)
        self.src = [codes[counts[:, c] < self.cap[c]] for c in range(inst.kinds)]

    @staticmethod
    def fits(inst: LayerInstance) -> bool:
        S = 1.0
        for m in inst.members:              # in floats: 2**100 states must not wrap round an int64
            S *= min(len(m), inst.M) + 1
        return S * inst.kinds * inst.M * (inst.M + 1) / 2 <= STATE_BUDGET

    def solve(self, cost: np.ndarray):
        """(least share sum per number of groups used, back-pointers) for per-kind range costs
        `cost` (kinds, M, M)."""
        M, S = self.inst.M, self.S
        f = np.full((M + 1, S), np.inf)
        f[0, 0] = 0.0
        back = np.full((M + 1, S), -1, dtype=np.int64)
        K = self.inst.kinds
        for j in range(M):
            row, arg = f[j + 1], back[j + 1]
            for i in range(j + 1):
                prev = f[i]
                for c in range(K):
                    v = cost[c, i, j]
                    if not np.isfinite(v):
                        continue
                    src = self.src[c]
                    cand = prev[src] + v
                    dst = src + self.stride[c]
                    better = cand < row[dst]
                    if better.any():
                        row[dst[better]] = cand[better]
                        arg[dst[better]] = (i * K + c) * S + src[better]
        best = np.full(len(self.inst.groups) + 1, np.inf)
        np.minimum.at(best, np.minimum(self.used, len(best) - 1), f[M])
        return best, f[M], back

    def cover(self, final: np.ndarray, back: np.ndarray, m: int | None) -> list:
        """The ranges of the best state (with m groups in use, or any), each given a free group of
        its kind (they are alike)."""
        M, S, K = self.inst.M, self.S, self.inst.kinds
        ok = np.isfinite(final) & ((self.used == m) if m is not None else True)
        state = int(np.argmin(np.where(ok, final, np.inf)))
        ranges, j = [], M
        while j > 0:
            code = int(back[j, state])
            prev, ic = code % S, code // S
            i, c = divmod(ic, K)
            ranges.append((c, i, j - 1))
            state, j = prev, i
        free = [list(m) for m in self.inst.members]
        return sorted(((free[c].pop(0), i, j) for c, i, j in ranges), key=lambda r: r[1])


def _assign(inst: LayerInstance, ranges, group_cost) -> list[tuple[int, int, int]]:
    """Each range (kind, i, j) the cheapest free group of its kind (kind None: of any kind)."""
    taken, out = set(), []
    order = sorted(ranges, key=lambda r: -np.min(group_cost[:, r[1], r[2]]))   # dearest ranges choose first
    for c, i, j in order:
        pool = inst.members[c] if c is not None else range(len(inst.groups))
        free = [g for g in pool if g not in taken]
        g = min(free, key=lambda g: group_cost[g, i, j]) if free else None
        if g is None or not np.isfinite(group_cost[g, i, j]):
            return []
        taken.add(g)
        out.append((g, i, j))
    return sorted(out, key=lambda r: r[1])


def _kind_costs(inst: LayerInstance, group_cost: np.ndarray) -> np.ndarray:
    return np.stack([group_cost[m[0]] for m in inst.members])


def _relaxed(inst: LayerInstance, group_cost: np.ndarray):
    """Least share sum of a cover when a group may hold several ranges (a lower bound), and its
    ranges [(None, i, j)]."""
    M = inst.M
    best = np.min(group_cost, axis=0)                  # (M, M)
    g = np.full(M + 1, np.inf)
    g[0] = 0.0
    arg = np.zeros(M + 1, int)
    for j in range(M):
        cand = g[:j + 1] + best[:j + 1, j]
        i = int(np.argmin(cand))
        g[j + 1], arg[j + 1] = cand[i], i
    ranges, j = [], M
    while j > 0:
        i = arg[j]
        ranges.append((None, i, j - 1))
        j = i
    return g[M], ranges


# ---------------------------------------------------------------- bisection on T

def _bisect(ok, lo: float, hi: float, rel_tol: float = 1e-12) -> float:
    """The least T in [lo, hi] with ok(T) (ok monotone, ok(hi) true)."""
    while hi - lo > rel_tol * hi:
        mid = 0.5 * (lo + hi)
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _upper(ok, start: float) -> float:
    hi = max(start, 1e-9)
    for _ in range(200):
        if ok(hi):
            return hi
        hi *= 2.0
    raise InfeasibleError("no round time lets the workers' blocks cover the model (a worker cannot finish even "
                          "its smallest block with the whole channel)", resource="channel")


def _one_channel(inst: LayerInstance) -> bool:
    return len(inst.channels) <= 1


def joint_T(inst: LayerInstance, per_count: bool = False):
    """The exact least round (and its cover); with per_count, for every number of groups in use.
    Returns {m or None: (T, cover)}."""
    dp = CoverDP(inst)
    lo = inst.lower_T()

    def run(T):
        return dp.solve(inst.kind_costs(T))

    def ok_any(T):
        return float(np.min(run(T)[0])) <= 1.0 + 1e-12

    hi = _upper(ok_any, lo * 2)
    T = _bisect(ok_any, lo, hi)
    best, final, back = run(T)
    out = {None: (T, dp.cover(final, back, None))}
    if per_count:
        for m in range(1, min(len(inst.groups), inst.M) + 1):
            def ok_m(t, m=m):
                return float(run(t)[0][m]) <= 1.0 + 1e-12
            try:
                hm = _upper(ok_m, T)
            except InfeasibleError:
                continue
            Tm = _bisect(ok_m, T * (1 - 1e-9), hm)
            _, final, back = run(Tm)
            out[m] = (Tm, dp.cover(final, back, m))
    return out


def _ordered(inst: LayerInstance, group_cost: np.ndarray, order) -> tuple[float, list]:
    """Least share sum of a cover whose ranges, bottom to top, are held by groups in `order`
    (each at most once, any may be skipped): a DP over (groups considered, layers covered)."""
    M = inst.M
    f = np.full(M + 1, np.inf)
    f[0] = 0.0
    took = np.full((len(order), M + 1), -1)      # step w improved f[j] from f[i]: took[w, j] = i
    for w, g in enumerate(order):
        cand = np.where(inst.valid, f[:-1, None] + group_cost[g], np.inf)      # (i, j)
        i = np.argmin(cand, axis=0)
        v = cand[i, np.arange(M)]
        better = v < f[1:]
        took[w, 1:] = np.where(better, i, -1)
        f[1:] = np.where(better, v, f[1:])
    if not np.isfinite(f[M]):
        return np.inf, []
    cover, j = [], M
    for w in range(len(order) - 1, -1, -1):
        if j == 0:
            break
        i = took[w, j]
        if i >= 0:
            cover.append((int(order[w]), int(i), j - 1))
            j = int(i)
    return float(f[M]), sorted(cover, key=lambda c: c[1])


def heuristic_T(inst: LayerInstance):
    """(T, cover, lower bound): ranges held by groups in a fixed order (fastest compute at the
    bottom, where the backward is longest; and by fastest link), exact for that order; the bound
    is the least T of the cover that lets one group hold several ranges (a relaxation)."""
    lo = inst.lower_T()
    whole = np.array([np.max(inst.A[g][:, 0, inst.M - 1]) for g in inst.groups])
    link = np.array([np.max(inst.A[g][:, inst.M - 1, inst.M - 1]) for g in inst.groups])
    orders = [np.argsort(whole, kind="stable"), np.argsort(link, kind="stable")]

    def relaxed_ok(T):
        return _relaxed(inst, inst.costs(T))[0] <= 1.0 + 1e-12

    bound = _bisect(relaxed_ok, lo, _upper(relaxed_ok, lo * 2))
    best = None
    for order in orders:
        def ok(T, order=order):
            return _ordered(inst, inst.costs(T), order)[0] <= 1.0 + 1e-12
        T = _bisect(ok, bound * (1 - 1e-12), _upper(ok, bound))
        if best is None or T < best[0]:
            best = (T, _ordered(inst, inst.costs(T), order)[1])
    return best[0], best[1], bound


# ---------------------------------------------------------------- methods

def joint(cm: CostModel) -> Solution:
    inst = LayerInstance(cm)
    if not _one_channel(inst):
        return milp(cm, inst)
    if not CoverDP.fits(inst):
        return heuristic(cm, inst)
    T, cover = joint_T(inst)[None]
    return Solution(inst.decisions(cover, T), "optimal", 0.0, {"round_latency_s": T})


def per_count(cm: CostModel) -> list[Solution]:
    """The exact optimum for each number of worker groups in use (time-to-target planning trades
    the samples of more workers against the round they cost)."""
    inst = LayerInstance(cm)
    if not _one_channel(inst) or not CoverDP.fits(inst):
        return [joint(cm)]
    res = joint_T(inst, per_count=True)
    return [Solution(inst.decisions(cover, T), "optimal", 0.0, {"round_latency_s": T})
            for m, (T, cover) in sorted(res.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)) if m is not None]


def heuristic(cm: CostModel, inst: LayerInstance | None = None) -> Solution:
    inst = inst or LayerInstance(cm)
    if not _one_channel(inst):
        return milp(cm, inst)
    T, cover, bound = heuristic_T(inst)
    return Solution(inst.decisions(cover, T), "heuristic", T / bound - 1.0,
                    {"round_latency_s": T, "lower_bound_s": bound})


def milp(cm: CostModel, inst: LayerInstance | None = None) -> Solution:
    """Bisection on T around the cover as a MILP (pyomo + HiGHS), for every channel layout."""
    import pyomo.environ as pyo

    from .highs import Highs
    inst = inst or LayerInstance(cm)
    M = inst.M
    R = inst.R
    opt = Highs()
    one_channel = _group_channels(inst)

    def solve(T):
        beta = least_shares(R, inst.A, inst.U, inst.D, T)
        gc = inst.costs(T, shares=beta)
        cand = _candidates(gc, M, one_channel)
        if not all(any(c[1] <= u <= c[2] for c in cand) for u in range(M)):
            return None                     # some layer no group can hold by T
        m = pyo.ConcreteModel()
        m.x = pyo.Var(cand, domain=pyo.Binary)
        m.cover = pyo.Constraint(range(M), rule=lambda md, u: sum(md.x[c] for c in cand if c[1] <= u <= c[2]) == 1)
        by_group: dict = {}
        for c in cand:
            by_group.setdefault(c[0], []).append(c)
        m.once = pyo.Constraint(list(by_group), rule=lambda md, g: sum(md.x[c] for c in by_group[g]) <= 1)
        rows = []
        for ch, pos in inst.channels.items():
            on = set(pos.tolist())
            terms = [(sum(float(beta[k, c[1], c[2]]) for k in inst.groups[c[0]] if k in on), c) for c in cand
                     if any(k in on for k in inst.groups[c[0]])]
            terms = [(v, c) for v, c in terms if v > 0]
            if terms:
                rows.append(terms)
        m.share = pyo.ConstraintList()
        for terms in rows:
            m.share.add(sum(v * m.x[c] for v, c in terms) <= 1)
        m.obj = pyo.Objective(expr=sum(v * m.x[c] for terms in rows for v, c in terms), sense=pyo.minimize)
        if not opt.solve(m):
            return None
        return [c for c in cand if pyo.value(m.x[c]) > 0.5]

    lo = inst.lower_T()
    hi = _upper(lambda t: solve(t) is not None, lo * 2)
    T = _bisect(lambda t: solve(t) is not None, lo, hi, rel_tol=1e-9)
    return Solution(inst.decisions(sorted(solve(T), key=lambda c: c[1]), T), "optimal", 1e-9,
                    {"round_latency_s": T})


def _group_channels(inst: LayerInstance) -> np.ndarray:
    """Each group's channel as an integer when all its workers share one (else -1)."""
    code = {c: k for k, c in enumerate(inst.channels)}
    out = np.full(len(inst.groups), -1)
    for gi, g in enumerate(inst.groups):
        chans = {inst.R.channel[k] for k in g}
        if len(chans) == 1 and None not in chans:
            out[gi] = code[chans.pop()]
    return out


def _candidates(gc: np.ndarray, M: int, channel: np.ndarray) -> list[tuple[int, int, int]]:
    """The (group, first layer, last layer) choices the MILP needs. A cover holds at most M
    ranges, so for a range only the M cheapest groups of each channel can matter: a dearer one
    could swap with one of them left unused, on the same channel, for less of its share. Groups
    spanning channels are all kept. Exact, and thousands of workers become at most M per channel."""
    G = gc.shape[0]
    keep = np.zeros(gc.shape, bool)
    keep[channel < 0] = np.isfinite(gc[channel < 0])
    for c in np.unique(channel[channel >= 0]):
        rows = np.flatnonzero(channel == c)
        sub = gc[rows]                                              # (n_c, M, M)
        if len(rows) <= M:
            keep[rows] = np.isfinite(sub)
            continue
        top = np.argpartition(sub, M - 1, axis=0)[:M]               # (M, M, M): per range, the M cheapest
        ii, jj = np.meshgrid(np.arange(M), np.arange(M), indexing="ij")
        chosen = rows[top]
        mask = np.isfinite(np.take_along_axis(sub, top, axis=0))
        keep[chosen[mask], np.broadcast_to(ii, top.shape)[mask], np.broadcast_to(jj, top.shape)[mask]] = True
    g, i, j = np.nonzero(keep & (np.arange(M)[None, :, None] <= np.arange(M)[None, None, :]))
    return list(zip(g.tolist(), i.tolist(), j.tolist())) if G else []


def _equal_ranges(inst: LayerInstance, parts: int) -> list[tuple[int, int]]:
    """Layers cut into `parts` contiguous ranges of about equal parameters."""
    parts = max(1, min(parts, inst.M))
    P = np.cumsum(inst.cm.table.params[inst.layers])
    cuts = [int(np.searchsorted(P, P[-1] * k / parts)) for k in range(1, parts)]
    bounds, prev = [], -1
    for k, c in enumerate(cuts):                    # strictly increasing, room for the rest
        c = min(max(c, prev + 1), inst.M - (parts - k))
        bounds.append(c)
        prev = c
    edges = [-1] + bounds + [inst.M - 1]
    return [(edges[k] + 1, edges[k + 1]) for k in range(parts)]


def _in_order(inst: LayerInstance) -> list[tuple[int, int, int]]:
    return [(g, i, j) for g, (i, j) in enumerate(_equal_ranges(inst, len(inst.groups)))]


def _fixed(inst: LayerInstance, cover, share) -> dict:
    n = len(inst.devices)
    blocks: list = [None] * n
    for g, i, j in cover:
        for k in inst.groups[g]:
            blocks[k] = [int(inst.first[i]), int(inst.last[j])]
    return {"devices": inst.devices, "server": inst.server, "params": inst.block_params(blocks),
            "share_up": np.asarray(share, float), "share_dn": None, "blocks": blocks}


def equal(cm: CostModel) -> Solution:
    """Ranges of equal parameters, one per worker group in order, equal shares."""
    inst = LayerInstance(cm)
    cover = _in_order(inst)
    active = np.zeros(len(inst.devices), bool)
    for g, _, _ in cover:
        active[inst.groups[g]] = True
    share = np.zeros(len(inst.devices))
    for pos in inst.channels.values():
        on = pos[active[pos]]
        share[on] = 1.0 / max(len(on), 1)
    return Solution(_fixed(inst, cover, share), "baseline")


def bandwidth_aware(cm: CostModel) -> Solution:
    """Equal shares for every worker; blocks (ranges and who holds them) so the round is least:
    the cover DP with a range's cost 0 where its group finishes with its equal shares, else inf."""
    inst = LayerInstance(cm)
    share = cm.equal_shares(inst.devices, inst.R)

    def cover_at(T):
        need = least_shares(inst.R, inst.A, inst.U, inst.D, T)
        ok = need <= share[:, None, None] * (1 + 1e-12)
        gc = np.stack([np.where(np.all(ok[g], axis=0) & inst.valid, 0.0, np.inf) for g in inst.groups])
        if CoverDP.fits(inst):
            dp = CoverDP(inst)
            best, final, back = dp.solve(_kind_costs(inst, gc))
            return dp.cover(final, back, None) if np.min(best) <= 0 else None
        val, ranges = _relaxed(inst, gc)
        return (_assign(inst, ranges, gc) or None) if val <= 0 else None

    lo = inst.lower_T()
    hi = _upper(lambda t: cover_at(t) is not None, lo * 2)
    T = _bisect(lambda t: cover_at(t) is not None, lo, hi)
    return Solution(_fixed(inst, cover_at(T), share), "heuristic", None)


def parameter_aware(cm: CostModel) -> Solution:
    """Ranges of equal parameters in order; shares so every worker finishes together."""
    inst = LayerInstance(cm)
    cover = _in_order(inst)
    n = len(inst.devices)
    A, U, D = np.zeros(n), np.zeros(n), np.zeros(n)
    for g, i, j in cover:
        for k in inst.groups[g]:
            A[k], U[k], D[k] = inst.A[k, i, j], inst.U[k, i, j], inst.D[k, i, j]
    T, beta = minmax_time(inst.R, A, U, D)
    active = np.zeros(n, bool)
    for g, _, _ in cover:
        active[inst.groups[g]] = True
    return Solution(_fixed(inst, cover, np.where(active, beta, 0.0)), "heuristic", None)
