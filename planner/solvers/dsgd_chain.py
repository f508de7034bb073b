"""dsgd's exact stage partitioner, fast on long chains (PipeDream's profiles: up to 1,250 units).

One path of K nodes (the source first), L units. A plan is a sequence of stages (node k, units
a..b), nodes in path order, units contiguous. Its items, for one micro-batch: each stage's
compute P[k, b] - P[k, a-1] (P: the node's prefix time), and at each boundary after unit j from
node k' to node k the forward and backward transfer. The iteration is sum + (m - 1) * max.

minsum(cap): the least sum of items with every item <= cap, by dynamic programming over
V[k, u] (units 1..u done, the last stage on node k):

    V[k, u] = P[k, u] + min over j in [lo_k(u), u-1] of G[k, j]
    G[k, j] = min over k' < k of (V[k', j] + transfer(k', k, j)) - P[k, j]

The compute bound P[k, u] - P[k, j] <= cap makes the window's left end lo_k(u) monotone in u,
so each row is one vectorised range-minimum (a sparse table): O(K^2 L + K L log L) per call,
against O(K^2 L^2) Python steps for the table of every (node, first, last) stage.

The optimum over caps: g(cap) = minsum(cap) + (m - 1) cap is exact at the best plan's own max
item, and minsum is a step function of cap. A call at cap c returns a plan whose max item M
starts a step (minsum is the same on [M, c]); `best` searches the caps by branch and bound on
regions of max items (halving them, pruning those whose least sum plus (m - 1) times their
lowest max cannot beat the best), down to a lower bound on the bottleneck.

Replicated stages (PipeDream's data parallelism inside a stage) are groups: r consecutive
identical path nodes f..e holding one unit range, each computing 1/r of a micro-batch (prefix
P_g at mb / r). The group's own links add items that depend on the stage's first unit only (the
scatter of its input to the replicas beyond each link) or on its last unit only (the gather of
its output), and once per iteration an all-reduce of the stage's weights, arc * (Wt[u] - Wt[j])
plus the links' latencies when the stage has weights. So a group's row keeps the same shape,

    V[e, u] = P_g[u] + gather_g(u) + arc Wt[u] + min over j of (G[f, j] + scatter_g(j) - arc Wt[j] - P_g[j])

with the latency added on the part of the window where Wt[j] < Wt[u]: two range minima. A plain
node is a group of one with no extra terms (the arithmetic of the plain chain, to the bit).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

REL = 1e-10      # items within this relative distance count as equal (float noise of the sums)


@dataclass
class Group:
    """Path nodes f..e holding one stage as r = e - f + 1 replicas."""
    f: int
    e: int
    P: np.ndarray                       # (L+1,) prefix compute per micro-batch on one replica
    sc: np.ndarray | None = None        # (items, L+1) the scatter's link items by the stage's first unit - 1
    ga: np.ndarray | None = None        # (items, L+1) the gather's link items by its last unit
    arc: float = 0.0                    # all-reduce seconds per weight byte, per iteration
    arl: float = 0.0                    # all-reduce latency, per iteration, when the stage has weights
    jadd: np.ndarray = field(init=False)
    uadd: np.ndarray = field(init=False)
    sc_max: np.ndarray | None = field(init=False, default=None)   # the largest scatter item by first unit - 1
    ga_max: np.ndarray | None = field(init=False, default=None)   # the largest gather item by last unit

    @property
    def r(self) -> int:
        return self.e - self.f + 1

    def prepare(self, Wt: np.ndarray) -> None:
        n = len(self.P)
        sc_sum = self.sc.sum(axis=0) if self.sc is not None and len(self.sc) else np.zeros(n)
        ga_sum = self.ga.sum(axis=0) if self.ga is not None and len(self.ga) else np.zeros(n)
        self.jadd = sc_sum - self.arc * Wt - self.P
        self.uadd = self.P + ga_sum + self.arc * Wt
        self.sc_max = self.sc.max(axis=0) if self.sc is not None and len(self.sc) else None
        self.ga_max = self.ga.max(axis=0) if self.ga is not None and len(self.ga) else None

    def extra(self, Wt: np.ndarray, a: int, b: int) -> float:
        """The all-reduce of units a..b, once per iteration."""
        if self.r == 1:
            return 0.0
        w = Wt[b] - Wt[a - 1]
        return self.arc * w + (self.arl if w > 0 else 0.0)


class Chain:
    """Per-micro-batch times along one path: P[k, u] prefix compute, transfers into k after j;
    `groups` the ways to hold a stage (default: each node alone)."""

    def __init__(self, P: np.ndarray, fwd: np.ndarray, bwd: np.ndarray, groups: list[Group] | None = None,
                 Wt: np.ndarray | None = None):
        self.P = np.asarray(P, float)                       # (K, L+1), nondecreasing in u
        self.fwd, self.bwd = np.asarray(fwd, float), np.asarray(bwd, float)   # (K, K, L+1)
        self.K, self.L = self.P.shape[0], self.P.shape[1] - 1
        self.tr = self.fwd + self.bwd
        self.Wt = np.zeros(self.L + 1) if Wt is None else np.asarray(Wt, float)
        self.groups = groups if groups is not None else [Group(k, k, self.P[k]) for k in range(self.K)]
        # by first node: a group's way in needs only groups ending before its first node, all
        # of which start earlier
        self.groups = sorted(self.groups, key=lambda g: (g.f, g.e))
        for g in self.groups:
            g.prepare(self.Wt)
        # the first j with Wt[j] == Wt[u]: a stage j+1..u from there on has no weights to all-reduce
        self.z = np.searchsorted(self.Wt, self.Wt[1:], side="left")

    # -- one call: the least sum with every item <= cap
    def minsum(self, cap: float = np.inf):
        """(sum, max item, stages [(group, first, last)]) of the least-sum plan with items <= cap, or None."""
        K, L = self.K, self.L
        c = cap * (1 + REL) if np.isfinite(cap) else np.inf
        V = np.full((K, L + 1), np.inf)
        V[0, 0] = 0.0                                        # the source holds the input
        pred_k = np.full((K, L + 1), -1, dtype=np.int64)
        pred_j = np.full((K, L + 1), -1, dtype=np.int64)
        pred_g = np.full((K, L + 1), -1, dtype=np.int64)
        cols = np.arange(L)
        u = np.arange(1, L + 1)
        entry = {}                     # per first node f: the best way in after each unit j
        for gi, g in enumerate(self.groups):
            f = g.f
            if f not in entry:
                if f == 0:
                    G0 = np.full(L, np.inf)
                    G0[0] = 0.0
                    kp0 = np.full(L, -1)
                else:
                    cand = V[:f, :L] + self.tr[:f, f, :L]
                    if np.isfinite(c):
                        cand = np.where((self.fwd[:f, f, :L] <= c) & (self.bwd[:f, f, :L] <= c), cand, np.inf)
                    kp0 = np.argmin(cand, axis=0)
                    G0 = cand[kp0, cols]
                entry[f] = (G0, kp0)
            G, kp = entry[f]
            G = G + g.jadd[:L]
            if g.sc_max is not None and np.isfinite(c):
                G = np.where(g.sc_max[:L] <= c, G, np.inf)
            if not np.isfinite(G).any():
                continue
            lo = np.searchsorted(g.P, g.P[1:] - c, side="left") if np.isfinite(c) else np.zeros(L, np.int64)
            hi = u - 1
            if g.r == 1 or g.arl == 0.0:
                j, val = _window_min(G, lo, hi)
            else:                          # the all-reduce's latency only where the stage has weights
                j1, v1 = _window_min(G, lo, np.minimum(hi, self.z - 1))
                j2, v2 = _window_min(G, np.maximum(lo, self.z), hi)
                v1 = v1 + g.arl
                j, val = np.where(v1 <= v2, j1, j2), np.minimum(v1, v2)
            val = val + g.uadd[1:]
            if g.ga_max is not None and np.isfinite(c):
                val = np.where(g.ga_max[1:] <= c, val, np.inf)
            row = V[g.e, 1:]
            better = val < row
            V[g.e, 1:] = np.where(better, val, row)
            pred_j[g.e, 1:] = np.where(better, j, pred_j[g.e, 1:])
            pred_k[g.e, 1:] = np.where(better, kp[j], pred_k[g.e, 1:])
            pred_g[g.e, 1:] = np.where(better, gi, pred_g[g.e, 1:])
        k = int(np.argmin(V[:, L]))
        if not np.isfinite(V[k, L]):
            return None
        total = float(V[k, L])
        stages, u_ = [], L
        while u_ > 0:
            j = int(pred_j[k, u_])
            stages.append((int(pred_g[k, u_]), j + 1, u_))
            k, u_ = int(pred_k[k, u_]), j
        stages.reverse()
        return total, self.max_item(stages), stages

    def items(self, stages) -> list[float]:
        """Per micro-batch: each stage's transfers in, its scatter, compute and gather."""
        out, prev = [], 0
        for i, (gi, a, b) in enumerate(stages):
            g = self.groups[gi]
            if i > 0 or g.f != 0:
                out += [self.fwd[prev, g.f, a - 1], self.bwd[prev, g.f, a - 1]]
            if g.sc is not None:
                out += list(g.sc[:, a - 1])
            out.append(g.P[b] - g.P[a - 1])
            if g.ga is not None:
                out += list(g.ga[:, b])
            prev = g.e
        return out

    def extra(self, stages) -> float:
        """Per iteration, beside the pipeline: the replicated stages' all-reduces."""
        return float(sum(self.groups[gi].extra(self.Wt, a, b) for gi, a, b in stages))

    def max_item(self, stages) -> float:
        return float(max(self.items(stages)))

    def iteration(self, stages, m: int) -> float:
        it = self.items(stages)
        return float(sum(it) + self.extra(stages) + (m - 1) * max(it))

    def nodes(self, stages) -> list[tuple[int, int, int, int]]:
        """(first path node, last path node, first unit, last unit) per stage."""
        return [(self.groups[gi].f, self.groups[gi].e, a, b) for gi, a, b in stages]

    # -- the optimum of sum + (m - 1) * max
    def bottleneck(self, free, tol: float = 1e-3) -> float:
        """A lower bound within `tol` of the least achievable max item (bisection on the cap), from
        the unconstrained plan `free`: every unit is computed somewhere, and some node computes 1/K
        of the total. The search in `best` only needs a lower bound to stop: a looser one costs
        it a few calls and saves the bisection's (to 1e-10 it took ~35 DP calls)."""
        P = np.array([g.P for g in self.groups])
        lo = max(float(np.max(np.min(np.diff(P, axis=1), axis=0))), float(np.min(self.P[:, -1])) / self.K)
        hi = free[1]
        if lo >= hi:
            return hi
        while hi - lo > tol * hi:
            mid = 0.5 * (lo + hi)
            r = self.minsum(mid)
            if r is None:
                lo = mid
            else:
                hi = min(mid, r[1])
        return lo

    def best(self, m: int):
        """(iteration, stages, minsum calls) minimising sum + (m - 1) * max; None if no plan.

        Branch and bound over the cap: a region (lo, hi, s) holds the plans whose max item lies
        in [lo, hi), whose sums are at least s (the least sum at a cap above hi); none of them
        beats s + (m - 1) lo. A call at cap c in the region finds the least-sum plan with max
        M <= c, which settles every plan with max in [M, c] (their sums are at least its sum),
        and leaves [lo, M) with that sum and (c, hi) as they were. Regions are split in halves,
        the most promising first; the first DP's walk down every step took 156 calls on a
        1,250-unit profile over 8 nodes."""
        import heapq
        free = self.minsum()
        if free is None:
            return None
        s_free, mx, stages = free
        best, arg, calls = s_free + (m - 1) * mx, stages, 1
        if m == 1:
            return best, arg, calls
        B = self.bottleneck(free)
        calls += 1
        heap = [(s_free + (m - 1) * B, B, mx * (1 - 10 * REL), s_free)]
        while heap:
            bound, lo, hi, s = heapq.heappop(heap)
            if bound >= best or hi < lo * (1 - REL):
                continue
            c = hi if hi - lo <= 1e-3 * hi else 0.5 * (lo + hi)
            r = self.minsum(c)
            calls += 1
            if c < hi:                                  # plans with max in (c, hi): as they were
                heapq.heappush(heap, (s + (m - 1) * c, c, hi, s))
            if r is None:                               # none with max <= c
                continue
            sc, M, st = r
            if sc + (m - 1) * M < best:
                best, arg = sc + (m - 1) * M, st
            below = M * (1 - 10 * REL)                  # plans with max under M: sums >= sc
            if below >= lo * (1 - REL):
                heapq.heappush(heap, (sc + (m - 1) * lo, lo, below, sc))
        return best, arg, calls


def _window_min(G: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """(argmin, min) of G over [lo[i], hi[i]] for every i; inf where the window is empty."""
    ok = lo <= hi
    a = np.where(ok, lo, 0)
    j = _range_argmin(G, a, np.where(ok, hi, a))
    return j, np.where(ok, G[j], np.inf)


def _range_argmin(G: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """argmin of G over [lo[i], hi[i]] (inclusive) for every i, by a sparse table."""
    n = len(G)
    levels = [np.arange(n)]
    w = 1
    while 2 * w <= n:
        prev = levels[-1]
        a, b = prev[:n - 2 * w + 1], prev[w:n - w + 1]
        levels.append(np.where(G[a] <= G[b], a, b))
        w *= 2
    span = hi - lo + 1
    lev = np.floor(np.log2(np.maximum(span, 1))).astype(np.int64)
    out = np.empty(len(lo), dtype=np.int64)
    for li in np.unique(lev):
        sel = lev == li
        tab = levels[li]
        a = tab[lo[sel]]
        b = tab[hi[sel] - (1 << li) + 1]
        out[sel] = np.where(G[a] <= G[b], a, b)
    return out
