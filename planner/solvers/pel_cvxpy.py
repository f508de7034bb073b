"""pel's inner problem with cvxpy + Clarabel (pel_solvers.PelInstance in, the rate as -rel_entr,
the throughput bound with quad_over_lin): for cross-checks, benchmarks, and separate up/down
bandwidth, where the water-filling of pel_solvers does not apply."""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import InfeasibleError

LN2 = np.log(2.0)


def cvxpy_joint(inst, hi: float, rel_tol: float = 1e-10):
    """The least T with F(T) >= P, F(T) from the convex problem of `cvxpy_capacity`: F is
    increasing, so the root of F(T) - P is bracketed and found by the Illinois method (regula
    falsi with halving), a few convex solves instead of a bisection's thirty."""
    lo = float(np.max(inst.lat)) * (1 + 1e-9)
    r_hi = cvxpy_capacity(inst, hi)
    while r_hi is None or r_hi[0] < inst.P:
        hi *= 2.0
        r_hi = cvxpy_capacity(inst, hi)
        if hi > 1e12:
            raise InfeasibleError("the cvxpy formulation found no feasible allocation")
    f_lo, f_hi = -inst.P, r_hi[0] - inst.P          # F(lo) = 0 at T = max latency
    best, side = r_hi, 0
    for _ in range(100):
        T = hi - f_hi * (hi - lo) / (f_hi - f_lo)
        if not lo < T < hi:
            T = 0.5 * (lo + hi)
        r = cvxpy_capacity(inst, T)
        f = (r[0] - inst.P) if r is not None else -inst.P
        if f >= 0:
            hi, f_hi, best = T, f, r
            if side == 1:
                f_lo *= 0.5
            side = 1
        else:
            lo, f_lo = T, f
            if side == -1:
                f_hi *= 0.5
            side = -1
        if hi - lo <= rel_tol * hi or 0 <= f_hi <= 1e-10 * inst.P:
            break
    tot, Lk, bu, bd = best
    return hi, Lk * inst.P / tot, bu, bd


def cvxpy_capacity(inst, T: float):
    """max sum_g L_g s.t. L_g <= (T - lat_k) z_k, z_k a_k(beta_k) <= 1, sum beta <= 1 (cvxpy).

    Scaled for Clarabel: each worker's throughput z, share beta and rates r are divided by their
    values at equal shares (z = z0 zt, beta = b0 bt, r = r0 rt), so every coefficient is O(1)
    even at SNRs of 1e9; the throughput bound z a(beta) <= 1 is written as
    a0 z0 zt^2 + Q z0 / r0_up * zt^2 / rt_up + Q z0 / r0_dn * zt^2 / rt_dn <= zt (quad_over_lin)."""
    import cvxpy as cp

    n = len(inst.devices)
    w = T - inst.lat
    if np.any(w <= 0):
        return None
    b0 = inst.cm.equal_shares(inst.devices, inst.R)
    z0 = 1.0 / inst.a(b0)
    zt = cp.Variable(n, nonneg=True)
    bu = cp.Variable(n, nonneg=True)
    bd = cp.Variable(n, nonneg=True) if inst.separate else bu
    cons = []
    for k in range(n):
        if not inst.has[k]:
            cons.append(inst.a0[k] * z0[k] * zt[k] <= 1)
            continue
        terms = inst.a0[k] * z0[k] * cp.square(zt[k])
        for up, var in ((True, bu), (False, bd)):
            r0 = float(inst._rate(b0, up)[k])
            terms = terms + (inst.Q * z0[k] / r0) * cp.quad_over_lin(zt[k], _cvx_rate_scaled(inst, k, var[k], b0[k], r0, up))
        cons.append(terms <= zt[k])
    for pos in inst.channels.values():
        cons.append(cp.sum(cp.multiply(b0[pos], bu[pos])) <= 1)
        if inst.separate:
            cons.append(cp.sum(cp.multiply(b0[pos], bd[pos])) <= 1)
    Lg = cp.Variable(len(inst.groups), nonneg=True)
    scale = inst.P / len(inst.groups)
    for gi, g in enumerate(inst.groups):
        for k in g:
            cons.append(Lg[gi] * (scale / (w[k] * z0[k])) <= zt[k])
    prob = cp.Problem(cp.Maximize(cp.sum(Lg)), cons)
    try:
        with warnings.catch_warnings():       # "may be inaccurate": the status says it, and the claim then
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")     # reads "feasible"
            prob.solve(solver=cp.CLARABEL, equilibrate_enable=False, tol_gap_abs=1e-10, tol_gap_rel=1e-10,
                       tol_feas=1e-10)
    except cp.error.SolverError:
        return None
    if prob.status not in ("optimal", "optimal_inaccurate") or Lg.value is None:
        return None
    if prob.status == "optimal_inaccurate":
        inst._inaccurate = True                  # the claim then says "feasible", not "optimal"
    L = np.zeros(n)
    for gi, g in enumerate(inst.groups):
        L[g] = max(float(Lg.value[gi]), 0.0) * scale
    total = float(np.sum(Lg.value)) * scale
    b_u = np.clip(b0 * np.asarray(bu.value, float), 0, 1)
    b_d = np.clip(b0 * np.asarray(bd.value, float), 0, 1) if inst.separate else b_u
    return total, L, b_u, b_d


def _cvx_rate_scaled(inst, k: int, bt, b0: float, r0: float, up: bool):
    """r(b0 * bt) / r0, concave in bt: linear (spectral) or a relative entropy (Shannon)."""
    import cvxpy as cp
    B = inst.B[k]
    if inst.spectral[k]:
        return bt * (b0 * B * inst.eta[k] / r0)
    s = inst.su[k] if up else inst.sd[k]
    # r(b) = b B log2(1 + s/b) = B/ln2 * (-rel_entr(b, b + s)); with b = b0 bt:
    # rel_entr(b0 bt, b0 bt + s) = b0 rel_entr(bt, bt + s/b0)
    return (B * b0 / (LN2 * r0)) * (-cp.rel_entr(bt, bt + s / b0))
