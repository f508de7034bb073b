"""dsgd solvers: contiguous stages along a path of nodes.

Items of one micro-batch (of b/m samples): each stage's compute, and per stage boundary a
forward transfer (activations and labels) and a backward transfer (gradients; none for the raw
input). The iteration is sum(items) + (m - 1) * max(items) (cost model, dsgd).

- `dp`: dynamic programming over states (path position of the last stage's node, last unit).
  For m = 1 it minimises the sum; for a bottleneck threshold it minimises the sum subject to
  every item <= threshold; the optimum over thresholds in increasing order (pruned by a lower
  bound) is exact for any m. As m grows the iteration tends to the bottleneck (PipeDream).
- `milp`: the same choice as a pyomo model solved by HiGHS: a binary per (node, first, last)
  stage, flow constraints making the stages a contiguous cover in path order, and a variable
  bounding every chosen item, minimising sum + (m - 1) * bound.

Without `paradigms.dsgd.path`, both take the best over the simple paths from the source.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from ..costs import CostModel
from ..dsgd_costs import smallest_microbatch
from ..graph import shortest_path
from .common import Solution
from .highs import Highs

MAX_PATHS = 64


def source_of(cm: CostModel) -> str:
    d = cm.scn.spec.paradigms.dsgd
    if d.source:
        return d.source
    if d.path:
        return d.path[0]
    return cm.devices[0]


def path_of(cm: CostModel) -> list[str]:
    """paradigms.dsgd.path, else the shortest-latency path from the source to the server."""
    d = cm.scn.spec.paradigms.dsgd
    if d.path:
        return list(d.path)
    src = source_of(cm)
    hops = shortest_path(cm.scn, src, cm.server())
    return [src] + [h.dst for h in hops]


def candidate_paths(cm: CostModel) -> list[list[str]]:
    spec = cm.scn.spec.paradigms.dsgd
    if spec.path:
        return [list(spec.path)]
    from ..graph import graph
    src = source_of(cm)
    g = graph(cm.scn)
    keep = [n for n in g.nodes if g.nodes[n]["role"] != "device" or n == src]
    view = g.subgraph(keep)
    paths = []
    for t in cm.scn.servers:
        for p in nx.all_simple_paths(view, src, t, cutoff=8):
            paths.append(list(p))
            if len(paths) >= MAX_PATHS:
                break
    # longer paths contain shorter prefixes' choices: keep only maximal ones
    maximal = [p for p in paths if not any(len(q) > len(p) and q[:len(p)] == p for q in paths)]
    return maximal or [path_of(cm)]


class PathTables:
    """Per-micro-batch item times for one path: comp[k, a, b] and transfer[k1, k2, u]."""

    def __init__(self, cm: CostModel, path: list[str], m: int):
        self.cm, self.path, self.m = cm, path, m
        K, L = len(path), cm.L
        src = path[0]
        mb = cm.batch[cm.idx[src]] / m
        self.mb = mb
        S, C = cm.S[cm.ix(path)], cm.C[cm.ix(path)]               # (K, L+1)
        self.P = mb * S + C                                         # prefix compute, one micro-batch
        fwd = np.full((K, K, L + 1), np.inf)
        bwd = np.full((K, K, L + 1), np.inf)
        x_f = mb * (cm.out + cm.label)
        x_b = mb * cm.out
        for k1 in range(K):
            for k2 in range(k1 + 1, K):
                R = cm.routes([path[k1]], [path[k2]], concurrent=False, via=[path[k1:k2 + 1]])
                fwd[k1, k2] = _route_times(R, x_f, True)
                bwd[k1, k2] = _route_times(R, x_b, False)
        bwd[:, :, 0] = 0.0  # the raw input needs no gradient
        self.fwd, self.bwd = fwd, bwd

    def groups(self, rmax: int):
        """Every way to hold a stage: each node alone, and runs of up to rmax consecutive
        identical path nodes as replicas (cost model, dsgd replicas)."""
        from .dsgd_chain import Group
        cm, path, mb, L = self.cm, self.path, self.mb, self.cm.L
        v = cm.ix(path)
        out = [Group(k, k, self.P[k]) for k in range(len(path))]
        x_f, x_b = mb * (cm.out + cm.label), mb * cm.out
        x_b_in = x_b.copy()
        x_b_in[0] = 0.0                                   # the raw input needs no gradient
        x_b_out = x_b.copy()
        x_f_out = x_f.copy()
        x_f_out[L] = x_b_out[L] = 0.0                     # the last stage's loss stays where it is
        for f in range(len(path)):
            links = []
            for e in range(f + 1, min(len(path), f + rmax)):
                if not (np.array_equal(cm.S[v[e]], cm.S[v[f]]) and np.array_equal(cm.C[v[e]], cm.C[v[f]])):
                    break
                links.append(cm.routes([path[e - 1]], [path[e]], concurrent=False, via=[[path[e - 1], path[e]]]))
                r = e - f + 1
                sc, ga = [], []
                for i, R in enumerate(links):
                    beyond, before = (r - 1 - i) / r, (i + 1) / r
                    sc += [_route_times(R, x_f * beyond, True), _route_times(R, x_b_in * beyond, False)]
                    ga += [_route_times(R, x_f_out * before, True), _route_times(R, x_b_out * before, False)]
                arc = sum(8.0 * (float(R.per_bit(np.ones(1), True)[0]) + float(R.per_bit(np.ones(1), False)[0]))
                          for R in links)
                arl = sum(2.0 * float(R.lat[0]) for R in links)
                out.append(Group(f, e, (mb / r) * cm.S[v[f]] + cm.C[v[f]], np.array(sc), np.array(ga), arc, arl))
        return out

    @property
    def comp(self) -> np.ndarray:
        """comp[k, a-1, b]: units a..b on path node k, one micro-batch (K x (L+1)^2: the
        reference DP and the MILP only, on short chains)."""
        if getattr(self, "_comp", None) is None:
            P = self.P
            self._comp = P[:, None, :] - P[:, :, None]
        return self._comp


def _route_times(R, x, up):
    per_bit = float(R.per_bit(np.ones(1), up)[0])
    return np.where(x > 0, R.lat[0] + 8.0 * x * per_bit, 0.0)


def dp_path(tab: PathTables, cap: float = np.inf) -> tuple[float, float, list[tuple[int, int, int]]] | None:
    """Min sum of items with every item <= cap. Returns (sum, max item, stages as (k, a, b))."""
    K, L = len(tab.path), tab.cm.L
    INF = np.inf
    V = np.full((K, L + 1), INF)       # V[k, u]: units 1..u done, last stage on node k
    Mx = np.zeros((K, L + 1))
    back: dict = {}
    # the source (k = 0) before any unit
    V0_sum, V0_max = 0.0, 0.0
    comp = np.where(tab.comp <= cap, tab.comp, INF)
    for u in range(1, L + 1):
        for k in range(K):
            best, bmax, arg = INF, 0.0, None
            for a in range(1, u + 1):
                c = comp[k, a - 1, u]
                if not np.isfinite(c):
                    continue
                if a == 1:   # first stage: the input travels from the source to node k
                    if k == 0:
                        cand, cmax = c, c
                    else:
                        f = tab.fwd[0, k, 0]
                        if f > cap:
                            continue
                        cand, cmax = V0_sum + f + c, max(V0_max, f, c)
                    if cand < best:
                        best, bmax, arg = cand, cmax, (None, a)
                    continue
                prevs = V[:k, a - 1]
                if not np.isfinite(prevs).any():
                    continue
                t = tab.fwd[:k, k, a - 1] + tab.bwd[:k, k, a - 1]
                ok = (tab.fwd[:k, k, a - 1] <= cap) & (tab.bwd[:k, k, a - 1] <= cap)
                tot = np.where(ok, prevs + t + c, INF)
                kp = int(np.argmin(tot))
                if tot[kp] < best:
                    best = tot[kp]
                    bmax = max(Mx[kp, a - 1], tab.fwd[kp, k, a - 1], tab.bwd[kp, k, a - 1], c)
                    arg = (kp, a)
            V[k, u], Mx[k, u] = best, bmax
            back[(k, u)] = arg
    k = int(np.argmin(V[:, L]))
    if not np.isfinite(V[k, L]):
        return None
    stages, u = [], L
    while True:
        kp, a = back[(k, u)]
        stages.append((k, a, u))
        if kp is None:
            break
        k, u = kp, a - 1
    stages.reverse()
    return float(V[stages[-1][0], L]), float(Mx[stages[-1][0], L]), stages


def best_on_path(tab: PathTables) -> tuple[float, list]:
    """Exact min over stage choices of sum(items) + (m - 1) * max(items)."""
    m = tab.m
    base = dp_path(tab)
    if base is None:
        return np.inf, []
    s, mx, stages = base
    best, best_st = s + (m - 1) * mx, stages
    if m == 1:
        return best, best_st
    # thresholds: candidate bottleneck values, increasing; stop once (m-1)*cap alone is too much
    cands = np.unique(np.concatenate([tab.comp[np.isfinite(tab.comp) & (tab.comp >= 0)].ravel(),
                                      tab.fwd[np.isfinite(tab.fwd)].ravel(), tab.bwd[np.isfinite(tab.bwd)].ravel()]))
    bott = _bottleneck(tab)
    cands = cands[cands >= bott - 1e-15]
    for cap in cands:
        if s + (m - 1) * cap >= best - 1e-15 * best:   # s is the least sum at any cap
            break
        r = dp_path(tab, cap * (1 + 1e-12))
        if r is None:
            continue
        val = r[0] + (m - 1) * r[1]
        if val < best:
            best, best_st = val, r[2]
    return best, best_st


def _bottleneck(tab: PathTables) -> float:
    """The least achievable max item (bisection over candidate values with the DP)."""
    cands = np.unique(np.concatenate([tab.comp[np.isfinite(tab.comp) & (tab.comp >= 0)].ravel(),
                                      tab.fwd[np.isfinite(tab.fwd)].ravel(), tab.bwd[np.isfinite(tab.bwd)].ravel()]))
    lo, hi = 0, len(cands) - 1
    if dp_path(tab, cands[hi] * (1 + 1e-12)) is None:
        return np.inf
    while lo < hi:
        mid = (lo + hi) // 2
        if dp_path(tab, cands[mid] * (1 + 1e-12)) is not None:
            hi = mid
        else:
            lo = mid + 1
    return float(cands[lo])


def max_replicas(cm: CostModel) -> int:
    """paradigms.dsgd.replicas as a bound, and never more replicas than a micro-batch has samples
    (a batch smaller than its micro-batch count is counted in fractions, as PipeDream's profiles
    count one minibatch as a sample: no such bound then)."""
    d = cm.scn.spec.paradigms.dsgd
    r = 10 ** 6 if d.replicas == "auto" else int(d.replicas)
    b = int(cm.batch[cm.idx[source_of(cm)]])
    if b < d.microbatches:
        return r
    return max(1, min(r, smallest_microbatch(b, d.microbatches)))


def _solution(cm: CostModel, path, stages, method_info: dict) -> Solution:
    """stages: (first path node, last path node, first unit, last unit) per stage."""
    st = [(path[f], int(a), int(b)) for f, _, a, b in stages]
    reps = [list(path[f:e + 1]) for f, e, _, _ in stages]
    return Solution({"stages": st, "replicas": reps, "path": path,
                     "microbatches": cm.scn.spec.paradigms.dsgd.microbatches,
                     "source": source_of(cm)}, "optimal", 0.0, method_info)


def dp(cm: CostModel) -> Solution:
    """Exact, by dsgd_chain's branch and bound over bottleneck caps (a vectorised DP per cap),
    replicated stages where paradigms.dsgd.replicas allows."""
    from .dsgd_chain import Chain
    m = cm.scn.spec.paradigms.dsgd.microbatches
    rmax = max_replicas(cm)
    best, arg = np.inf, None
    for path in candidate_paths(cm):
        tab = PathTables(cm, path, m)
        chain = Chain(tab.P, tab.fwd, tab.bwd, tab.groups(rmax), cm.Wp)   # gradients all-reduced
        r = chain.best(m)
        if r is not None and r[0] < best:
            best, arg = r[0], (path, chain.nodes(r[1]))
    if arg is None:
        from ..errors import InfeasibleError
        raise InfeasibleError("no stage assignment along any path from the source")
    return _solution(cm, arg[0], arg[1], {"iteration_s": best})


def dp_reference(cm: CostModel) -> Solution:
    """The first exact DP (a table of every stage, a threshold loop): O(K^2 L^2) Python steps
    per threshold, kept to cross-check dp in the tests."""
    m = cm.scn.spec.paradigms.dsgd.microbatches
    best, arg = np.inf, None
    for path in candidate_paths(cm):
        tab = PathTables(cm, path, m)
        v, st = best_on_path(tab)
        if v < best:
            best, arg = v, (path, [(k, k, a, b) for k, a, b in st])
    if arg is None:
        from ..errors import InfeasibleError
        raise InfeasibleError("no stage assignment along any path from the source")
    return _solution(cm, arg[0], arg[1], {"iteration_s": best})


def milp(cm: CostModel) -> Solution:
    m = cm.scn.spec.paradigms.dsgd.microbatches
    best, arg = np.inf, None
    for path in candidate_paths(cm):
        tab = PathTables(cm, path, m)
        r = milp_path(tab)
        if r is not None and r[0] < best:
            best, arg = r[0], (path, [(k, k, a, b) for k, a, b in r[1]], tab)
    if arg is None:
        from ..errors import InfeasibleError
        raise InfeasibleError("no stage assignment along any path from the source")
    sol = _solution(cm, arg[0], arg[1], {"iteration_s": best})
    from .dsgd_chain import Chain
    true = Chain(arg[2].P, arg[2].fwd, arg[2].bwd).iteration([(k, a, b) for k, _, a, b in arg[1]], m)
    if abs(true - best) > 1e-6 * true:      # the solver's claim does not hold for its own plan
        sol.status = "feasible"
        sol.info = {"iteration_s": true, "milp_claimed_s": best}
    return sol


def milp_path(tab: PathTables, time_limit: float = 60.0):
    """Stages on one path as a pyomo MILP (HiGHS)."""
    import pyomo.environ as pyo

    K, L, m = len(tab.path), tab.cm.L, tab.m
    # stage variables y[k, a, b]; "edge" variables z[k1, k2, u]: boundary after unit u from k1 to k2
    S = [(k, a, b) for k in range(K) for a in range(1, L + 1) for b in range(a, L + 1)
         if np.isfinite(tab.comp[k, a - 1, b])]
    E = [(k1, k2, u) for k1 in range(K) for k2 in range(k1 + 1, K) for u in range(0, L)
         if np.isfinite(tab.fwd[k1, k2, u]) and (u > 0 or k1 == 0)]
    mdl = pyo.ConcreteModel()
    mdl.y = pyo.Var(S, domain=pyo.Binary)
    mdl.z = pyo.Var(E, domain=pyo.Binary)
    mdl.cap = pyo.Var(domain=pyo.NonNegativeReals)
    starts, ends, ins, outs = {}, {}, {}, {}
    for s_ in S:
        starts.setdefault((s_[0], s_[1]), []).append(s_)
        ends.setdefault((s_[0], s_[2]), []).append(s_)
    for e in E:
        ins.setdefault((e[1], e[2] + 1), []).append(e)
        outs.setdefault((e[0], e[2]), []).append(e)
    # every unit in exactly one stage
    mdl.cover = pyo.Constraint(range(1, L + 1), rule=lambda md, u: sum(md.y[s_] for s_ in S if s_[1] <= u <= s_[2]) == 1)

    # a stage starting at unit a on node k is entered by a boundary (the source's first stage is not)
    def enter(md, k, a):
        ys = starts.get((k, a), [])
        zs = ins.get((k, a), [])
        if a == 1 and k == 0:
            return pyo.Constraint.Skip
        if not ys and not zs:
            return pyo.Constraint.Skip
        return sum(md.y[s_] for s_ in ys) == sum(md.z[e] for e in zs)
    mdl.enter = pyo.Constraint(range(K), range(1, L + 1), rule=enter)

    # a stage ending at unit u < L on node k hands on by exactly one boundary
    def leave(md, k, u):
        ys = ends.get((k, u), [])
        zs = outs.get((k, u), [])
        if not ys and not zs:
            return pyo.Constraint.Skip
        return sum(md.z[e] for e in zs) == sum(md.y[s_] for s_ in ys)
    mdl.leave = pyo.Constraint(range(K), range(1, L), rule=leave)
    # times in units of the whole model on the slowest path node, the objective per micro-batch:
    # every coefficient O(1). Unscaled, at a million micro-batches an item is ~1e-8 s, below
    # HiGHS' feasibility tolerance, and `cap >= item` held with cap = 0 ("optimal", 15-364% off).
    whole = tab.comp[:, 0, L]
    scale = float(np.max(whole[np.isfinite(whole)])) or 1.0
    comp, fwd, bwd = tab.comp / scale, tab.fwd / scale, tab.bwd / scale
    mdl.bound_y = pyo.Constraint(S, rule=lambda md, k, a, b: md.cap >= comp[k, a - 1, b] * md.y[(k, a, b)])
    mdl.bound_f = pyo.Constraint(E, rule=lambda md, k1, k2, u: md.cap >= fwd[k1, k2, u] * md.z[(k1, k2, u)])
    mdl.bound_b = pyo.Constraint(E, rule=lambda md, k1, k2, u: md.cap >= bwd[k1, k2, u] * md.z[(k1, k2, u)])
    total = sum(comp[k, a - 1, b] * mdl.y[(k, a, b)] for (k, a, b) in S) + \
        sum((fwd[e] + bwd[e]) * mdl.z[e] for e in E)
    mdl.obj = pyo.Objective(expr=(total + (m - 1) * mdl.cap) / m, sense=pyo.minimize)
    if not Highs(time_limit).solve(mdl):
        return None
    stages = sorted(((k, a, b) for (k, a, b) in S if pyo.value(mdl.y[(k, a, b)]) > 0.5), key=lambda s: s[1])
    return float(pyo.value(mdl.obj)) * scale * m, stages
