"""Channel shares: the least share that meets a round time, and min-max allocation.

A device's round, as a function of its channel share beta, is
    T_i(beta) = A_i + 8 U_i / r_up(beta) + 8 D_i / r_dn(beta)
where A_i holds everything that does not depend on beta (compute, latencies, fixed-rate hops)
and U_i, D_i are the bytes crossing the channel up and down. With a spectral efficiency eta,
r(beta) = beta B eta and the least share for a target T is the closed form
    beta_i(T) = 8 (U_i + D_i) / (B eta (T - A_i)).
With a Shannon rate r(beta) = beta B log2(1 + snr/beta), which is increasing and concave in beta,
T_i(beta) is decreasing and convex, and the least share is found by a vectorised safeguarded
Newton iteration. Min-max allocation is then a bisection on T: T is achievable iff the least
shares on every channel sum to at most 1 (monotone in T).
"""

from __future__ import annotations

import numpy as np

from ..costs import CostModel, Routes

LN2 = np.log(2.0)


def fixed_part(R: Routes, fixed, up_msgs, dn_msgs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split per-device transfers into (A, U, D).

    `up_msgs`/`dn_msgs` list the messages: byte arrays (broadcast over devices, or over
    devices x options), or (bytes, count) for `count` messages of that size; each nonzero
    message pays the route's latency.
    """
    A = np.array(fixed, float, copy=True)
    U = np.zeros_like(A)
    D = np.zeros_like(A)
    lat = R.lat.reshape((-1,) + (1,) * (A.ndim - 1))
    fu = R.fix_up.reshape(lat.shape)
    fd = R.fix_dn.reshape(lat.shape)
    for msgs, acc, f in ((up_msgs, U, fu), (dn_msgs, D, fd)):
        for m in msgs:
            x, k = m if isinstance(m, tuple) else (m, 1)
            x = np.broadcast_to(np.asarray(x, float), A.shape)
            A += k * np.where(x > 0, lat + 8.0 * x * f, 0.0)
            acc += k * x
    has = R.has_ch.reshape(lat.shape)
    return A, np.where(has, U, 0.0), np.where(has, D, 0.0)


def least_shares(R: Routes, A, U, D, T: float, cap: bool = True) -> np.ndarray:
    """Least share per entry so that A + channel time <= T; np.inf where even share 1 fails
    (with `cap=False`, spectral links report the share above 1 they would need), 0 for entries
    with nothing on a channel (and A <= T)."""
    shape = np.shape(A)
    bw = R.bw.reshape((-1,) + (1,) * (len(shape) - 1))
    eta = R.eta.reshape(bw.shape)
    slack = T - A
    bits = 8.0 * (U + D)
    out = np.where(slack >= 0, 0.0, np.inf)
    need = bits > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        spectral = bits / (bw * eta * slack)
        se = ~np.isnan(np.broadcast_to(eta, shape))
        out = np.where(need & se, np.where(slack > 0, spectral, np.inf), out)
    sh = need & ~se
    if sh.any():
        out = np.where(sh, _shannon_least(R, U, D, slack, sh), out)
    return np.where(out > 1.0 + 1e-12, np.inf, out) if cap else out


def _channel_time(beta, B, su, sd, U, D):
    with np.errstate(divide="ignore", invalid="ignore"):
        ru = beta * B * np.log2(1.0 + su / beta)
        rd = beta * B * np.log2(1.0 + sd / beta)
        return np.where(U > 0, 8.0 * U / ru, 0.0) + np.where(D > 0, 8.0 * D / rd, 0.0)


def _shannon_least(R: Routes, U, D, slack, mask) -> np.ndarray:
    """Solve channel_time(beta) = slack for beta in (0, 1] by bisection in log space."""
    shape = np.shape(U)
    ex = (-1,) + (1,) * (len(shape) - 1)
    B = np.broadcast_to(R.bw.reshape(ex), shape)[mask]
    su = np.broadcast_to(R.snr_up.reshape(ex), shape)[mask]
    sd = np.broadcast_to(R.snr_dn.reshape(ex), shape)[mask]
    u, d, s = U[mask], D[mask], slack[mask]
    res = np.full(u.shape, np.inf)
    ok = (s > 0) & (_channel_time(np.ones_like(u), B, su, sd, u, d) <= s)
    lo, hi = np.full(u.shape, -60.0), np.zeros(u.shape)   # log2(beta) in [-60, 0]
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        t = _channel_time(2.0 ** mid, B, su, sd, u, d)
        fast = t <= s
        hi = np.where(fast, mid, hi)
        lo = np.where(fast, lo, mid)
    res[ok] = 2.0 ** hi[ok]
    full = np.full(shape, np.inf)
    full[mask] = res
    return full


def channel_positions(R: Routes) -> dict[str, np.ndarray]:
    out: dict[str, list[int]] = {}
    for i, ch in enumerate(R.channel):
        if ch is not None:
            out.setdefault(ch, []).append(i)
    return {c: np.array(v, int) for c, v in out.items()}


def feasible_at(R: Routes, A, U, D, T: float, groups) -> tuple[bool, np.ndarray]:
    beta = least_shares(R, A, U, D, T)
    if not np.all(np.isfinite(beta)):
        return False, beta
    for pos in groups.values():
        if beta[pos].sum() > 1.0 + 1e-12:
            return False, beta
    return True, beta


def minmax_time(R: Routes, A, U, D, rel_tol: float = 1e-12) -> tuple[float, np.ndarray]:
    """Least T such that the least shares fit every channel; returns (T, shares at T)."""
    groups = channel_positions(R)
    lo = float(np.max(A))
    hi = max(lo, 1e-9) * 2.0
    for _ in range(200):
        ok, _ = feasible_at(R, A, U, D, hi, groups)
        if ok:
            break
        hi *= 2.0
    else:
        from ..errors import InfeasibleError
        stuck = np.flatnonzero(~np.isfinite(least_shares(R, A, U, D, hi)))
        who = R.src[int(stuck[0])] if len(stuck) else "a device"
        raise InfeasibleError(f"{who}: no round time is long enough: even the whole channel gives it no usable rate "
                              "(check the channel's bandwidth and the link's spectral efficiency or gain)",
                              node=who, resource="channel")
    while hi - lo > rel_tol * hi:
        mid = 0.5 * (lo + hi)
        ok, _ = feasible_at(R, A, U, D, mid, groups)
        if ok:
            hi = mid
        else:
            lo = mid
    _, beta = feasible_at(R, A, U, D, hi, groups)
    return hi, spread_leftover(beta, groups)


def spread_leftover(beta: np.ndarray, groups) -> np.ndarray:
    """Give each channel's unused capacity to its devices in proportion to their shares (every
    device only gets faster); devices that need nothing keep an equal part of what is left."""
    beta = np.array(beta, float)
    for pos in groups.values():
        tot = beta[pos].sum()
        if tot <= 0:
            beta[pos] = 1.0 / len(pos)
        else:
            beta[pos] = beta[pos] / tot
    return beta


def minmax_shares(cm: CostModel, devices, R: Routes, fixed, up_bytes, dn_bytes):
    """fl-style min-max: per device `fixed` seconds, one upload of `up_bytes` and one download
    of `dn_bytes`; returns (shares, least round time)."""
    A, U, D = fixed_part(R, fixed, [up_bytes], [dn_bytes])
    T, beta = minmax_time(R, A, U, D)
    return beta, T
