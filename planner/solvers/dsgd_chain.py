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
item, and minsum is a step function of cap. Walking down from the largest useful cap, each call
returns a plan whose max item M starts a step (minsum is the same on [M, cap]), so the next cap
to try is just below M; the walk stops once minsum + (m - 1) * bottleneck cannot beat the best.
"""

from __future__ import annotations

import numpy as np

REL = 1e-10      # items within this relative distance count as equal (float noise of the sums)


class Chain:
    """Per-micro-batch times along one path: P[k, u] prefix compute, transfers into k after j."""

    def __init__(self, P: np.ndarray, fwd: np.ndarray, bwd: np.ndarray):
        self.P = np.asarray(P, float)                       # (K, L+1), nondecreasing in u
        self.fwd, self.bwd = np.asarray(fwd, float), np.asarray(bwd, float)   # (K, K, L+1)
        self.K, self.L = self.P.shape[0], self.P.shape[1] - 1
        self.tr = self.fwd + self.bwd

    # -- one call: the least sum with every item <= cap
    def minsum(self, cap: float = np.inf):
        """(sum, max item, stages [(k, first, last)]) of the least-sum plan with items <= cap, or None."""
        K, L, P = self.K, self.L, self.P
        c = cap * (1 + REL) if np.isfinite(cap) else np.inf
        V = np.full((K, L + 1), np.inf)
        V[0, 0] = 0.0                                        # the source holds the input
        pred_k = np.full((K, L + 1), -1, dtype=np.int64)
        pred_j = np.full((K, L + 1), -1, dtype=np.int64)
        cols = np.arange(L)
        for k in range(K):
            if k == 0:
                G = np.full(L, np.inf)
                G[0] = -P[0, 0]
                kp = np.full(L, -1)
            else:
                cand = V[:k, :L] + self.tr[:k, k, :L]
                if np.isfinite(c):
                    cand = np.where((self.fwd[:k, k, :L] <= c) & (self.bwd[:k, k, :L] <= c), cand, np.inf)
                kp = np.argmin(cand, axis=0)
                G = cand[kp, cols] - P[k, :L]
            if not np.isfinite(G).any():
                continue
            u = np.arange(1, L + 1)
            lo = np.searchsorted(P[k], P[k, 1:] - c, side="left") if np.isfinite(c) else np.zeros(L, np.int64)
            hi = u - 1
            ok = lo <= hi
            j = _range_argmin(G, np.where(ok, lo, hi), hi)
            val = np.where(ok, P[k, 1:] + G[j], np.inf)
            V[k, 1:] = val
            pred_j[k, 1:] = j
            pred_k[k, 1:] = kp[j]
        k = int(np.argmin(V[:, L]))
        if not np.isfinite(V[k, L]):
            return None
        stages, u = [], L
        while u > 0:
            j = int(pred_j[k, u])
            stages.append((k, j + 1, u))
            k, u = int(pred_k[k, u]), j
        stages.reverse()
        return float(V[stages[-1][0], L]), self.max_item(stages), stages

    def items(self, stages) -> list[float]:
        out, prev = [], 0
        for i, (k, a, b) in enumerate(stages):
            if i > 0 or k != 0:
                out += [self.fwd[prev, k, a - 1], self.bwd[prev, k, a - 1]]
            out.append(self.P[k, b] - self.P[k, a - 1])
            prev = k
        return out

    def max_item(self, stages) -> float:
        return float(max(self.items(stages)))

    # -- the optimum of sum + (m - 1) * max
    def bottleneck(self, free) -> float:
        """The least achievable max item (bisection on the cap, to REL), from the unconstrained
        plan `free`: every unit is computed somewhere, and some node computes 1/K of the total."""
        P = self.P
        lo = max(float(np.max(np.min(np.diff(P, axis=1), axis=0))), float(np.min(P[:, -1])) / self.K)
        best = hi = free[1]
        while hi - lo > REL * hi:
            mid = 0.5 * (lo + hi)
            r = self.minsum(mid)
            if r is None:
                lo = mid
            else:
                best = min(best, r[1])
                hi = min(mid, r[1])
        return best

    def best(self, m: int):
        """(iteration, stages, minsum calls) minimising sum + (m - 1) * max; None if no plan."""
        free = self.minsum()
        if free is None:
            return None
        s_free, mx, stages = free
        best, arg, calls = s_free + (m - 1) * mx, stages, 1
        if m == 1:
            return best, arg, calls
        B = self.bottleneck(free)
        calls += 1
        # g(cap) >= s_free + (m - 1) cap: only caps below (best - s_free) / (m - 1) can win, and
        # caps at or above free's own max give free's plan again
        cap = min(mx * (1 - 10 * REL), (best - s_free) / (m - 1))
        while cap >= B * (1 - REL):
            r = self.minsum(cap)
            calls += 1
            if r is None:
                break
            s, M, st = r
            if s + (m - 1) * M < best:
                best, arg = s + (m - 1) * M, st
            if s + (m - 1) * B >= best:                       # lower caps: larger sums, max >= B
                break
            cap = M * (1 - 10 * REL)
        return best, arg, calls


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
