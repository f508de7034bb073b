"""pel solvers: PABA's four schemes. Worker k with L_k parameters and channel share beta_k takes
    T_k = L_k a_k(beta_k) + lat_k,   a_k(beta) = c/f_k + Q (per-bit time up + down at beta)
(cost model, pel; lat_k counts the download's and the upload's path latency).

`joint` is the optimum: min T s.t. sum over blocks of L = P, sum beta <= 1 per channel. For a
fixed T the most parameters servable, F(T) = max sum_k (T - lat_k) / a_k(beta_k), is a concave
resource allocation (1/a_k is concave in beta for both spectral and Shannon rates): water-filling
with one multiplier per channel, h_k'(beta_k) = lambda. F is convex and increasing in T, with
dF/dT = sum_k 1/a_k(beta_k) (envelope theorem), so Newton from the equal-allocation latency
converges monotonically from above in a few steps. Worker groups (several workers training one
block on different data) are solved by bisection on T around the same per-channel allocation,
with a group's block limited by its slowest member.

`cvxpy` solves the same inner problem with cvxpy + Clarabel (pel_cvxpy; rate as -rel_entr, the throughput
bound with quad_over_lin), for cross-checks, benchmarks, and separate up/down bandwidth.
"""

from __future__ import annotations

import heapq

import numpy as np

from .. import pel_costs as PC
from ..costs import CostModel
from .common import Solution
from .pel_cvxpy import cvxpy_joint
from .shares import channel_positions, fixed_part, minmax_time

LN2 = np.log(2.0)


class PelInstance:
    """Per-worker coefficients of a_k(beta) for the workers' routes to the server."""

    def __init__(self, cm: CostModel, devices=None, server=None):
        self.cm = cm
        self.devices = devices or cm.devices
        self.server = server or cm.server()
        n = len(self.devices)
        self.R = R = cm.routes(self.devices, [self.server] * n)
        self.P, self.Q, _ = PC.pel_setup(cm)
        d = cm.ix(self.devices)
        self.tpp = PC.pel_time_per_param(cm, d)
        self.a0 = self.tpp + self.Q * (R.fix_up + R.fix_dn)      # s per parameter, share-independent
        self.lat = 2.0 * R.lat
        self.has = R.has_ch
        self.B, self.eta, self.su, self.sd = R.bw, R.eta, R.snr_up, R.snr_dn
        self.spectral = ~np.isnan(self.eta)
        self.groups = PC.pel_groups(cm, self.devices)
        self.channels = channel_positions(R)
        self.separate = cm.scn.spec.paradigms.pel.bandwidth == "separate"

    # a_k(beta) and its derivative -------------------------------------------------
    def a(self, beta) -> np.ndarray:
        beta = np.asarray(beta, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            ch = self.Q * (1.0 / self._rate(beta, True) + 1.0 / self._rate(beta, False))
        return self.a0 + np.where(self.has, ch, 0.0)

    def _rate(self, beta, up):
        s = self.su if up else self.sd
        with np.errstate(divide="ignore", invalid="ignore"):
            sh = np.where(beta > 0, beta * self.B * np.log2(1.0 + s / beta), 0.0)   # no share, no rate
        return np.where(self.spectral, beta * self.B * np.nan_to_num(self.eta), sh)

    def _drate(self, beta, up):
        s = self.su if up else self.sd
        with np.errstate(divide="ignore", invalid="ignore"):
            sh = self.B * (np.log2(1.0 + s / beta) - s / (LN2 * (beta + s)))
        return np.where(self.spectral, self.B * np.nan_to_num(self.eta), sh)

    def da(self, beta) -> np.ndarray:
        beta = np.asarray(beta, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = -self.Q * (self._drate(beta, True) / self._rate(beta, True) ** 2
                           + self._drate(beta, False) / self._rate(beta, False) ** 2)
        return np.where(self.has, d, 0.0)


# ---------------------------------------------------------------- water-filling at fixed T

def _spectral_e(inst: PelInstance, pos, sp) -> np.ndarray:
    """Spectral links: a(beta) = a0 + e / beta with e = 2 Q / (B eta) (up and down alike)."""
    return 2.0 * inst.Q / (inst.B[pos] * np.where(sp, inst.eta[pos], 1.0))


def _beta_for_lambda(inst: PelInstance, w, lam, pos) -> np.ndarray:
    """Per worker of channel `pos`: beta in (0, 1] with w h'(beta) = lambda, h = 1/a."""
    w = w[pos]
    sp = inst.spectral[pos]
    beta = np.zeros(len(pos))
    # spectral: a = a0 + e / beta, e = 2 Q / (B eta): w e / (a0 beta + e)^2 = lambda
    e = _spectral_e(inst, pos, sp)
    with np.errstate(divide="ignore", invalid="ignore"):
        closed = (np.sqrt(np.maximum(w, 0) * e / lam) - e) / inst.a0[pos]
    beta = np.where(sp, np.clip(closed, 0.0, 1.0), beta)
    if (~sp).any():
        idx = pos[~sp]
        ww = w[~sp]
        sub = _Sub(inst, idx)
        last = getattr(inst, "_x_last", None)
        if last is None:
            last = inst._x_last = np.full(len(inst.devices), np.nan)
        x = _log2_share(sub, ww, lam, x0=last[idx])
        last[idx] = x                             # the next lambda is close: start from here
        b = 2.0 ** x
        a1 = sub.a(np.ones(len(idx)))
        g1 = -ww * sub.da(np.ones(len(idx))) / a1 ** 2
        beta[~sp] = np.where(g1 >= lam, 1.0, np.where(ww > 0, b, 0.0))
    return beta


def _log2_share(sub, w, lam, lo: float = -60.0, tol: float = 1e-13, iters: int = 80, x0=None) -> np.ndarray:
    """Per worker, x = log2(beta) in [lo, 0] where w h'(beta) = lambda (h = 1/a; h' falls as
    beta grows), every worker at once, by regula falsi with the Illinois modification on
    g(x) = ln(w h'(2^x)) - ln(lambda) (nearly linear in x, so a few steps do), with a bisection
    step wherever four steps have not quartered the bracket: never much slower than bisection.
    Workers whose root lies below lo get lo (beta ~ 1e-18: no share). `x0`: last roots (NaN where
    none): a bracket of +-0.25 around them is tried first (the water-filling's next lambda is
    close to its last), the whole range where it does not hold the root."""
    n = len(w)

    def g(x):
        a, da = sub.a_da(2.0 ** x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(np.maximum(-w * da, 1e-300)) - 2.0 * np.log(a) - np.log(lam)

    xa, xb = np.full(n, lo), np.zeros(n)
    if x0 is not None and np.isfinite(x0).any():
        near = np.isfinite(x0)
        xa = np.where(near, np.maximum(np.nan_to_num(x0) - 0.25, lo), lo)
        xb = np.where(near, np.minimum(np.nan_to_num(x0) + 0.25, 0.0), 0.0)
        ga, gb = g(xa), g(xb)
        miss = ~((ga > 0) & (gb < 0))            # not bracketed there: the whole range
        if miss.any():
            xa, xb = np.where(miss, lo, xa), np.where(miss, 0.0, xb)
            ga2, gb2 = g(xa), g(xb)
            ga, gb = np.where(miss, ga2, ga), np.where(miss, gb2, gb)
    else:
        ga, gb = g(xa), g(xb)
    out = np.where(ga <= 0, lo, 0.0)
    live = (ga > 0) & (gb < 0)                 # a sign change inside: a root to find
    last = np.zeros(n)                          # which end the previous step moved (+1 a, -1 b)
    ref = xb - xa                               # the bracket at the last forced-halving check
    for it in range(iters):
        if not live.any():
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            x = xb - gb * (xb - xa) / (gb - ga)
        bis = ~(np.isfinite(x) & (x > xa) & (x < xb))
        if it % 4 == 3:                          # every fourth step: forced halving where slow
            bis |= (xb - xa) > 0.25 * ref
            ref = np.where(live, xb - xa, ref)
        x = np.where(bis, 0.5 * (xa + xb), x)
        gx = g(np.where(live, x, xa))
        right = gx > 0                            # h' still above lambda: the root is right of x
        ga = np.where(live & right, gx, np.where(live & ~right & (last == -1), 0.5 * ga, ga))
        gb = np.where(live & ~right, gx, np.where(live & right & (last == 1), 0.5 * gb, gb))
        xa = np.where(live & right, x, xa)
        xb = np.where(live & ~right, x, xb)
        last = np.where(live, np.where(right, 1.0, -1.0), last)
        close = np.abs(gx) <= tol                # g is a log ratio: |g| <= tol puts x within ~tol
        fin = live & ((xb - xa <= tol) | close)
        out = np.where(fin, np.where(close, x, 0.5 * (xa + xb)), out)
        live &= ~fin
    return np.where(live, 0.5 * (xa + xb), out)


class _Sub:
    """A view of a PelInstance restricted to some workers (for the Shannon bisection)."""

    def __init__(self, inst: PelInstance, idx):
        self.i, self.idx = inst, idx
        self.B, self.su, self.sd, self.a0 = inst.B[idx], inst.su[idx], inst.sd[idx], inst.a0[idx]

    def a_da(self, beta):
        """a(beta) and a'(beta) in one pass (the bisection's hot path)."""
        Q, B = self.i.Q, self.B
        with np.errstate(divide="ignore", invalid="ignore"):
            lu = np.log2(1.0 + self.su / beta)
            ld = np.log2(1.0 + self.sd / beta)
            ru, rd = beta * B * lu, beta * B * ld
            dru = B * (lu - self.su / (LN2 * (beta + self.su)))
            drd = B * (ld - self.sd / (LN2 * (beta + self.sd)))
        return self.a0 + Q * (1.0 / ru + 1.0 / rd), -Q * (dru / (ru * ru) + drd / (rd * rd))

    def a(self, beta):
        i, k = self.i, self.idx
        with np.errstate(divide="ignore", invalid="ignore"):
            ru = beta * i.B[k] * np.log2(1.0 + i.su[k] / beta)
            rd = beta * i.B[k] * np.log2(1.0 + i.sd[k] / beta)
        return i.a0[k] + i.Q * (1.0 / ru + 1.0 / rd)

    def da(self, beta):
        i, k = self.i, self.idx
        with np.errstate(divide="ignore", invalid="ignore"):
            ru = beta * i.B[k] * np.log2(1.0 + i.su[k] / beta)
            rd = beta * i.B[k] * np.log2(1.0 + i.sd[k] / beta)
            dru = i.B[k] * (np.log2(1.0 + i.su[k] / beta) - i.su[k] / (LN2 * (beta + i.su[k])))
            drd = i.B[k] * (np.log2(1.0 + i.sd[k] / beta) - i.sd[k] / (LN2 * (beta + i.sd[k])))
        return -i.Q * (dru / ru ** 2 + drd / rd ** 2)


def allocate(inst: PelInstance, T: float) -> np.ndarray:
    """Shares maximising sum_k (T - lat_k)/a_k(beta_k), sum beta <= 1 on every channel: the
    multiplier lambda of each channel by Newton's method on log lambda (the shares' sum is smooth
    and decreasing in it; its slope from implicit differentiation of w h'(beta) = lambda),
    safeguarded by a bracket, warm-started from the previous call's lambda."""
    w = T - inst.lat
    beta = np.zeros(len(inst.devices))
    guess = getattr(inst, "_lam", {})
    for ch, pos in inst.channels.items():
        act = pos[w[pos] > 0]
        if len(act) == 0:
            continue
        x, b = _channel_lambda(inst, w, act, _lambda_start(inst, w, act, guess.get(ch)))
        if x is not None:
            guess[ch] = (x, w.copy())
        tot = b.sum()
        beta[act] = b / tot if tot > 0 else 1.0 / len(act)
    inst._lam = guess
    return beta


def _lambda_start(inst: PelInstance, w, act, last) -> float:
    """A first log lambda: the last one, moved by how much the workers' time budgets w changed
    (w h'(beta) = lambda: at the same shares lambda scales with w); without one, the median
    worker's multiplier at equal shares."""
    if last is not None:
        x, w0 = last
        ok = w0[act] > 0
        if ok.any():
            return x + float(np.median(np.log(w[act][ok] / w0[act][ok])))
    eq = np.full(len(inst.devices), 1.0 / len(act))
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.log(w[act]) + np.log(-inst.da(eq)[act]) - 2.0 * np.log(inst.a(eq)[act])
    lam = lam[np.isfinite(lam)]
    return float(np.median(lam)) if len(lam) else 0.0


def _channel_lambda(inst: PelInstance, w, act, x: float, tol: float = 1e-14):
    """(log lambda, shares) with the shares of workers `act` summing to 1; (None, ones) when even
    lambda -> 0 leaves capacity (every worker at share 1). Newton on ln(sum of shares), nearly
    linear in log lambda, steps of at most 4 until the root is bracketed."""
    lo, hi, step = -np.inf, np.inf, 1.0          # excess(lo) > 0 > excess(hi)
    b = None
    for _ in range(200):
        b = _beta_for_lambda(inst, w, np.exp(x), act)
        tot = float(b.sum())
        f = tot - 1.0
        if f == 0.0:
            return x, b
        if f > 0:
            lo = x
        else:
            hi = x
            if x <= -700.0:
                return None, np.ones(len(act))
        if abs(f) <= 1e-13 or hi - lo <= tol * max(1.0, abs(x)):
            return x, b
        slope = float(_beta_slope(inst, w, np.exp(x), act, b).sum())
        nx = x - np.log(tot) * tot / slope if slope < 0 and tot > 0 else np.nan
        if not (np.isfinite(lo) and np.isfinite(hi)):
            nx = float(np.clip(nx, x - 4.0, x + 4.0)) if np.isfinite(nx) else np.nan
        if not lo < nx < hi:                       # off the bracket: bisect, or widen to find one
            if np.isfinite(lo) and np.isfinite(hi):
                nx = 0.5 * (lo + hi)
            else:
                nx = x + (step if f > 0 else -step)
                step *= 2.0
        x = max(nx, -700.0)
    return x, b


def _beta_slope(inst: PelInstance, w, lam, pos, beta) -> np.ndarray:
    """d beta_k / d log lambda at the water-filling shares `beta` of workers `pos` (0 where a
    share is clipped at 0 or 1): spectral in closed form, Shannon from w h'(2^x) = lambda, x =
    log2 beta, as beta ln2 / q'(x), q = ln h'(2^x) differentiated numerically."""
    sp = inst.spectral[pos]
    out = np.zeros(len(pos))
    inner = (beta > 1e-15) & (beta < 1.0)
    e = _spectral_e(inst, pos, sp)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(sp & inner, -0.5 * np.sqrt(np.maximum(w[pos], 0) * e / lam) / inst.a0[pos], out)
    sh = ~sp & inner
    if sh.any():
        idx = pos[sh]
        sub = _Sub(inst, idx)
        x = np.log2(beta[sh])
        h = 1e-6

        def q(x):
            a, da = sub.a_da(2.0 ** x)
            return np.log(-da) - 2.0 * np.log(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            dq = (q(x + h) - q(x - h)) / (2 * h)
            out[sh] = np.where(dq < 0, beta[sh] * LN2 / dq, 0.0)
    return out


def capacity(inst: PelInstance, T: float) -> tuple[float, np.ndarray, np.ndarray]:
    """F(T): the most parameters servable in T (singleton blocks), its shares and loads."""
    beta = allocate(inst, T)
    a = inst.a(beta)
    with np.errstate(invalid="ignore"):
        Lk = np.where(T - inst.lat > 0, (T - inst.lat) / a, 0.0)
    return float(Lk.sum()), beta, Lk


# ---------------------------------------------------------------- the schemes

def _equal_T(inst: PelInstance) -> float:
    """Latency of equal parameters and equal shares: an upper bound on the optimum."""
    n = len(inst.devices)
    share = inst.cm.equal_shares(inst.devices, inst.R)
    L = np.zeros(n)
    for g in inst.groups:
        L[g] = inst.P / len(inst.groups)
    return float(np.max(L * inst.a(share) + inst.lat))


def _decisions(inst: PelInstance, Lk, beta) -> dict:
    return {"devices": inst.devices, "server": inst.server, "params": np.asarray(Lk, float),
            "share_up": np.asarray(beta, float), "share_dn": np.asarray(beta, float) if inst.separate else None}


def joint(cm: CostModel) -> Solution:
    inst = PelInstance(cm)
    if inst.separate:
        return joint_cvxpy(cm)
    if any(len(g) > 1 for g in inst.groups):
        T, Lk, beta = _joint_groups(inst)
    else:
        T, Lk, beta = _joint_newton(inst)
    Lk, beta, info = _granulate(inst, Lk, beta, T)
    return Solution(_decisions(inst, Lk, beta), "optimal", 0.0, {"round_latency_continuous_s": T, **info})


def _joint_newton(inst: PelInstance, rel_tol: float = 1e-13):
    T = _equal_T(inst)
    Fv, beta, Lk = capacity(inst, T)
    for _ in range(100):
        a = inst.a(beta)
        dF = float(np.sum(np.where(T - inst.lat > 0, 1.0 / a, 0.0)))
        if not dF > 0 or not np.isfinite(dF):      # degenerate slope: bisection is always safe
            return _joint_bisect(inst, T)
        T_new = T - (Fv - inst.P) / dF
        T_new = max(T_new, float(np.min(inst.lat)) * (1 + 1e-15))
        Fn, bn, Ln = capacity(inst, T_new)
        if not Fn >= inst.P * (1 - 1e-12):    # numerical overshoot: stop at the last feasible point
            break
        done = abs(T - T_new) <= rel_tol * T
        T, Fv, beta, Lk = T_new, Fn, bn, Ln
        if done:
            break
    # scale loads to serve exactly P (F(T) >= P); every worker's time only falls
    return T, Lk * (inst.P / Lk.sum()), beta


def _joint_bisect(inst: PelInstance, hi: float, rel_tol: float = 1e-13):
    """Bisection on T for F(T) >= P (the fallback when Newton's slope degenerates)."""
    lo = float(np.min(inst.lat))
    while capacity(inst, hi)[0] < inst.P:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if capacity(inst, mid)[0] >= inst.P:
            hi = mid
        else:
            lo = mid
        if hi - lo <= rel_tol * hi:
            break
    _, beta, Lk = capacity(inst, hi)
    return hi, Lk * (inst.P / Lk.sum()), beta


def _joint_groups(inst: PelInstance):
    """Worker groups (spectral channels, one channel): Brent's method on T; at each T the least
    total share serving P parameters, min sum_g C_g(L_g) s.t. sum_g L_g = P, where a member's
    least share is phi_k(L) = e_k L / (w_k - a0_k L) (e_k = 2Q/(B eta)), so C_g is convex with a
    closed-form derivative: Brent on the common derivative nu, bisection per group on L_g.
    Shannon links or several channels with groups go to the cvxpy formulation."""
    from scipy.optimize import brentq

    if len(inst.channels) > 1 or not np.all(inst.spectral | ~inst.has):
        return _cvxpy_T(inst)
    groups = inst.groups
    G = len(groups)
    width = max(len(g) for g in groups)
    idx = np.full((G, width), -1)
    for gi, g in enumerate(groups):
        idx[gi, :len(g)] = g
    mask = idx >= 0
    k = np.where(mask, idx, 0)
    a0 = inst.a0[k]
    e = np.where(inst.has[k], 2.0 * inst.Q / (inst.B[k] * np.where(inst.spectral[k], inst.eta[k], 1.0)), 0.0)
    e = np.where(mask, e, 0.0)

    def at(T):
        w = np.where(mask, T - inst.lat[k], np.inf)
        cap = np.min(np.where(mask, w / a0, np.inf), axis=1)            # L_g < cap_g
        if np.any(cap <= 0):
            return np.inf, None

        def dC(L):
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.sum(np.where(mask, e * w / (w - a0 * L[:, None]) ** 2, 0.0), axis=1)

        def L_of(nu):
            lo, hi = np.zeros(G), cap * (1 - 1e-15)
            free = np.all(e == 0, axis=1)
            for _ in range(64):
                mid = 0.5 * (lo + hi)
                big = dC(mid) > nu
                hi, lo = np.where(big, mid, hi), np.where(big, lo, mid)
                if np.all(hi - lo <= 1e-14 * hi):
                    break
            return np.where(free, cap * (1 - 1e-15), lo)

        if L_of(np.inf).sum() < inst.P:
            return np.inf, None
        # the common derivative nu serving exactly P: Brent on log nu (sum L_g(nu) is increasing)
        lo, hi = -50.0, 0.0
        while L_of(np.exp(hi)).sum() < inst.P:
            hi += 10.0
        x = brentq(lambda v: L_of(np.exp(v)).sum() - inst.P, lo, hi, xtol=1e-13, rtol=1e-13) \
            if L_of(np.exp(lo)).sum() < inst.P else lo
        L = L_of(np.exp(x))
        L *= inst.P / L.sum()
        phi = np.where(mask, e * L[:, None] / (w - a0 * L[:, None]), 0.0)
        return float(phi.sum()), (L, phi)

    lo, hi = float(np.max(inst.lat)) * (1 + 1e-12), _equal_T(inst)
    while at(hi)[0] > 1.0:
        hi *= 2.0

    def excess(T):
        v = at(T)[0]
        return (v if np.isfinite(v) else 1e6) - 1.0

    if excess(lo) > 0:
        hi = brentq(excess, lo, hi, xtol=1e-15, rtol=1e-13)
    else:
        hi = lo
    while at(hi)[0] > 1.0:           # land on the feasible side of the root
        hi *= 1 + 1e-13
    _, (L, phi) = at(hi)
    Lk, beta = np.zeros(len(inst.devices)), np.zeros(len(inst.devices))
    for gi, g in enumerate(groups):
        Lk[g] = L[gi]
        beta[g] = phi[gi, :len(g)]
    for pos in inst.channels.values():
        tot = beta[pos].sum()
        beta[pos] = beta[pos] / tot if tot > 0 else 1.0 / len(pos)
    return hi, Lk, beta


def _cvxpy_T(inst: PelInstance):
    T, Lk, bu, _ = cvxpy_joint(inst, _equal_T(inst))
    return T, Lk, bu


def _granulate(inst: PelInstance, Lk, beta, T):
    """Round blocks to multiples of `granularity` parameters (or to whole layers); report the
    latency lost and its bound."""
    g = inst.cm.scn.spec.paradigms.pel.granularity or 1
    if g == "layer":
        return _whole_layers(inst, beta, T)
    if g <= 1 and np.allclose(Lk, np.round(Lk)):
        return Lk, beta, {}
    groups = inst.groups
    Lg = np.array([Lk[gr[0]] for gr in groups])
    base = np.floor(Lg / g) * g
    rest = inst.P - base.sum()
    a = inst.a(beta)
    if all(len(gr) == 1 for gr in groups):
        first = np.array([gr[0] for gr in groups])
        per, lat = a[first], inst.lat[first]
    else:
        per = np.array([max(a[gr]) for gr in groups])
        lat = np.array([max(inst.lat[gr]) for gr in groups])
    # greedily, each step of g parameters to the group that finishes it first (a heap: the
    # lowest finish, ties to the lowest index, as an argmin over the groups would choose)
    heap = [(float((base[k] + g) * per[k] + lat[k]), k) for k in range(len(groups))]
    heapq.heapify(heap)
    while rest >= g:
        _, k = heapq.heappop(heap)
        base[k] += g
        rest -= g
        heapq.heappush(heap, (float((base[k] + g) * per[k] + lat[k]), k))
    if rest > 1e-9:                                   # the last, shorter step
        base[int(np.argmin((base + rest) * per + lat))] += rest
    out = _per_worker(inst, base)
    return out, beta, {"granularity": int(g), "rounding_loss_s": _rounded_T(inst, out, a) - T,
                       "rounding_loss_bound_s": float(g * np.max(a[np.isfinite(a)]))}


def _per_worker(inst: PelInstance, per_group) -> np.ndarray:
    out = np.zeros(len(inst.devices))
    for gr, v in zip(inst.groups, per_group):
        out[gr] = v
    return out


def _rounded_T(inst: PelInstance, out, a) -> float:
    with np.errstate(invalid="ignore"):
        return float(np.max(np.where(out > 0, out * a + inst.lat, 0.0)))   # idle workers send nothing


def _whole_layers(inst: PelInstance, beta, T):
    """Blocks of whole layers, in order: the least round time T' such that assigning layers to
    the groups in turn, each taking what fits in T', places every layer (greedy is exact for a
    fixed order), found by bisection over the candidate loads."""
    sizes = np.asarray(inst.cm.table.params[1:], float)
    sizes = sizes[sizes > 0]
    a = inst.a(beta)
    per = np.array([max(a[gr]) for gr in inst.groups])
    lat = np.array([max(inst.lat[gr]) for gr in inst.groups])

    def assign(Tc):
        loads, k = np.zeros(len(inst.groups)), 0
        for gi in range(len(inst.groups)):
            # a group without a share (infinite time per parameter) takes nothing
            cap = 0.0 if not np.isfinite(per[gi]) else ((Tc - lat[gi]) / per[gi] if per[gi] > 0 else np.inf)
            while k < len(sizes) and loads[gi] + sizes[k] <= cap * (1 + 1e-12):
                loads[gi] += sizes[k]
                k += 1
        return loads if k == len(sizes) else None

    fin = np.isfinite(per)
    lo, hi = float(np.min(lat)), float(np.max((lat + per * sizes.sum())[fin]))
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if assign(mid) is not None:
            hi = mid
        else:
            lo = mid
        if hi - lo <= 1e-12 * hi:
            break
    out = _per_worker(inst, assign(hi))
    return out, beta, {"granularity": "layer", "rounding_loss_s": _rounded_T(inst, out, a) - T,
                       "rounding_loss_bound_s": float(sizes.max() * np.max(per[fin]))}


def bandwidth_aware(cm: CostModel) -> Solution:
    """Equal shares; parameters so that every block finishes together (bisection on T)."""
    inst = PelInstance(cm)
    share = cm.equal_shares(inst.devices, inst.R)
    a = inst.a(share)
    lo, hi = float(np.min(inst.lat)), _equal_T(inst) * 2
    def served(T):
        return sum(float(np.min(np.maximum(T - inst.lat[g], 0) / a[g])) for g in inst.groups)
    while served(hi) < inst.P:
        hi *= 2
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if served(mid) >= inst.P:
            hi = mid
        else:
            lo = mid
        if hi - lo <= 1e-13 * hi:
            break
    Lk = np.zeros(len(inst.devices))
    for g in inst.groups:
        Lk[g] = float(np.min(np.maximum(hi - inst.lat[g], 0) / a[g]))
    Lk *= inst.P / sum(Lk[g[0]] for g in inst.groups)   # serve exactly P; nobody gets slower
    return Solution(_decisions(inst, Lk, share), "heuristic", None)


def parameter_aware(cm: CostModel) -> Solution:
    """Equal parameters; shares so that every worker finishes together (min-max bisection)."""
    inst = PelInstance(cm)
    n = len(inst.devices)
    Lk = np.zeros(n)
    for g in inst.groups:
        Lk[g] = inst.P / len(inst.groups)
    x = Lk * inst.Q / 8.0
    fixed = Lk * inst.tpp
    A, U, D = fixed_part(inst.R, fixed, [x], [x])
    T, beta = minmax_time(inst.R, A, U, D)
    return Solution(_decisions(inst, Lk, beta), "heuristic", None)


# ---------------------------------------------------------------- cvxpy (Clarabel)

def joint_cvxpy(cm: CostModel) -> Solution:
    inst = PelInstance(cm)
    T, Lk, bu, bd = cvxpy_joint(inst, _equal_T(inst))
    Lk, bu, info = _granulate(inst, Lk, bu, T)
    d = _decisions(inst, Lk, bu)
    if inst.separate:
        d["share_dn"] = bd
    status = "feasible" if getattr(inst, "_inaccurate", False) else "optimal"
    return Solution(d, status, None, {"round_latency_continuous_s": T, **info})
