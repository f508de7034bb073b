"""psl solvers: the exact bisection, the pyomo/HiGHS MILP, and EdgeSplit's baselines.

The exact algorithm (latency objective, one server, equal server shares): for a round time T
every device independently takes the cut that needs the least channel share,
    beta_i(T) = min over allowed cuts c of beta_ic(T),
and T is achievable iff these least shares sum to at most 1 on every channel. Feasibility is
monotone in T, so bisection on T gives the optimum to 1e-12 relative. Memory excludes cuts;
a per-device energy budget bounds the share from below (radio energy falls with the share).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .. import costs as C_
from ..costs import CostModel, Routes
from ..errors import InfeasibleError
from ..units import fmt_si
from .common import Solution, cut_range
from .shares import channel_positions, fixed_part, least_shares, spread_leftover


@dataclass
class PslInstance:
    """psl's per (device, cut) coefficients for one server assignment and fixed server shares."""
    devices: list[str]
    server: str
    R: Routes
    cuts: np.ndarray          # the candidate cuts (lo..hi)
    A: np.ndarray             # (N, C) seconds independent of the channel share
    U: np.ndarray             # (N, C) bytes up the channel per round
    D: np.ndarray
    fits: np.ndarray          # (N, C) memory fits
    beta_e: np.ndarray        # (N, C) least share meeting the device energy budget (0 without one)
    alpha: np.ndarray

    @cached_property
    def groups(self):
        return channel_positions(self.R)

    def least(self, T: float, cap: bool = True) -> np.ndarray:
        """(N, C) least shares at round time T (inf where impossible)."""
        b = least_shares(self.R, self.A, self.U, self.D, T, cap)
        b = np.maximum(b, self.beta_e)
        b = np.where(self.fits, b, np.inf)
        return b

    def excess(self, T: float) -> tuple[float, np.ndarray, np.ndarray]:
        """(how far the least shares at T overfill the fullest channel, cut index, least shares):
        T is feasible iff the excess is <= 0; +inf where some device cannot finish by T."""
        b = self.least(T)
        k = np.argmin(b, axis=1)
        best = b[np.arange(len(k)), k]
        if not np.all(np.isfinite(best)):
            return np.inf, k, best
        fill = max((best[pos].sum() for pos in self.groups.values()), default=0.0)
        return fill - 1.0 - 1e-12, k, best

    def feasible(self, T: float) -> tuple[bool, np.ndarray, np.ndarray]:
        g, k, best = self.excess(T)
        return g <= 0.0, k, best


def instance(cm: CostModel, alpha=None, server: str | None = None, devices=None,
             allow_missing: bool = False) -> PslInstance:
    if alpha is None and devices is None and not allow_missing:   # the common case: built once per scenario
        key = ("psl-instance", server or cm.server())
        if key not in cm.memo:
            cm.memo[key] = _instance(cm, None, server, None, False)
        return cm.memo[key]
    return _instance(cm, alpha, server, devices, allow_missing)


def _instance(cm: CostModel, alpha, server, devices, allow_missing) -> PslInstance:
    devs = devices or cm.devices
    srv = server or cm.server()
    n = len(devs)
    lo, hi = cut_range(cm, "psl")
    cuts = np.arange(lo, hi + 1)
    R = cm.routes(devs, [srv] * n, allow_missing=allow_missing)
    d, s, L, tau = cm.ix(devs), cm.idx[srv], cm.L, cm.tau
    a = np.full(n, 1.0 / n) if alpha is None else np.asarray(alpha, float)
    b = cm.batch[d][:, None]
    C = cuts[None, :]
    dev = cm.span(d[:, None], 0, C, b)                                 # (devices, cuts)
    on_srv = cm.span(s, C, L, b)
    fixed = tau * dev + tau * on_srv / a[:, None]
    act_up = b * (cm.out[C] + cm.label)
    act_dn = b * cm.grad_out(C)
    W = np.broadcast_to(cm.Wt[C] * C_.shared(n), act_up.shape)
    A, U, D = fixed_part(R, fixed, [(act_up, tau), W], [(act_dn, tau), W])
    mem = cm.Wm[C] + b * cm.A[C]
    fits = mem <= cm.memory[d][:, None]
    beta_e = _energy_floor(cm, R, d, tau * dev, tau * act_up + W, tau * act_dn + W)
    return PslInstance(devs, srv, R, cuts, A, U, D, fits, beta_e, a)


def _energy_floor(cm: CostModel, R: Routes, d, fixed_dev, U, D) -> np.ndarray:
    """Least share keeping each device's round energy within constraints.max_device_energy."""
    budget = cm.scn.spec.constraints.max_device_energy
    if budget is None:
        return np.zeros_like(U)
    P = cm.compute_power[d][:, None]
    e0 = P * fixed_dev  # compute energy, plus radio energy on a fixed-rate first hop
    ptx, prx = cm.tx_power[d][:, None], cm.rx_power[d][:, None]
    first = [h[0] if h else (np.inf, np.inf) for h in R.hop_rates]
    ru0 = np.array([np.inf if r[0] is None else r[0] for r in first])[:, None]
    rd0 = np.array([np.inf if r[1] is None else r[1] for r in first])[:, None]
    e0 = e0 + ptx * 8.0 * U / ru0 + prx * 8.0 * D / rd0
    bw, eta = R.bw[:, None], R.eta[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        e1 = (ptx * 8.0 * U + prx * 8.0 * D) / (bw * eta)       # spectral: E = e0 + e1 / beta
        floor = np.where(U + D > 0, e1 / (budget - e0), 0.0)
    floor = np.where(budget - e0 <= 0, np.inf, floor)
    if np.isnan(R.eta).any():  # Shannon links: bisection on beta for the energy budget
        floor = np.where(np.isnan(eta), _shannon_energy_floor(R, ptx, prx, U, D, budget - e0), floor)
    return np.where(R.has_ch[:, None], floor, np.where(budget - e0 < 0, np.inf, 0.0))


def _shannon_energy_floor(R: Routes, ptx, prx, U, D, room):
    lo, hi = np.full(U.shape, -60.0), np.zeros(U.shape)
    B, su, sd = R.bw[:, None], R.snr_up[:, None], R.snr_dn[:, None]

    def energy(beta):
        with np.errstate(divide="ignore", invalid="ignore"):
            ru = beta * B * np.log2(1.0 + su / beta)
            rd = beta * B * np.log2(1.0 + sd / beta)
            return np.where(U > 0, ptx * 8 * U / ru, 0.0) + np.where(D > 0, prx * 8 * D / rd, 0.0)

    ok = energy(np.ones(U.shape)) <= room
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        good = energy(2.0 ** mid) <= room
        hi, lo = np.where(good, mid, hi), np.where(good, lo, mid)
    return np.where(ok, 2.0 ** hi, np.inf)


def _explain(cm: CostModel, inst: PslInstance) -> None:
    """Raise InfeasibleError naming the device and resource when some device has no usable cut."""
    usable = np.isfinite(np.where(inst.fits, inst.beta_e, np.inf)).any(axis=1)
    for i in np.flatnonzero(~usable)[:1]:                # the first device without a usable cut
        v = cm.idx[inst.devices[i]]
        if not inst.fits[i].any():
            b = cm.batch[v]
            mem = cm.Wm[inst.cuts] + b * cm.A[inst.cuts]
            raise InfeasibleError(
                f"{inst.devices[i]}: no cut fits {fmt_si(cm.memory[v], 'B', True)}; the smallest needs "
                f"{fmt_si(mem.min(), 'B', True)}", node=inst.devices[i], resource="memory",
                needed=float(mem.min()), available=float(cm.memory[v]))
        raise InfeasibleError(f"{inst.devices[i]}: no cut keeps its round energy within max_device_energy "
                              f"{fmt_si(cm.scn.spec.constraints.max_device_energy, 'J')}, even with the "
                              "whole channel", node=inst.devices[i], resource="energy")


def solve_exact(inst: PslInstance, rel_tol: float = 1e-12) -> tuple[float, np.ndarray, np.ndarray]:
    """(T*, cut index per device, shares) for the instance."""
    lo = float(np.max(np.min(np.where(inst.fits & np.isfinite(inst.beta_e), inst.A, np.inf), axis=1)))
    if not np.isfinite(lo):
        raise InfeasibleError("some device has no usable cut")
    g_lo, k_lo, best_lo = inst.excess(lo)
    if g_lo <= 0.0:          # the slowest device's own work bounds the round
        return lo, k_lo, spread_leftover(best_lo, inst.groups)
    hi = max(lo, 1e-9) * 2.0
    for _ in range(200):
        g_hi, k_hi, best_hi = inst.excess(hi)
        if g_hi <= 0.0:
            break
        hi *= 2.0
    else:
        raise InfeasibleError("no finite round time fits the channels (a device needs more than the whole "
                              "channel to meet its energy budget)", resource="channel")
    # The excess falls continuously with T except where a share would pass 1 (it becomes +inf):
    # regula falsi with the Illinois fix where both ends are finite, bisection otherwise, and a
    # bisection whenever two steps did not halve the bracket. About a quarter of plain
    # bisection's evaluations for the same 1e-12 bracket.
    widths, stuck = deque([np.inf] * 3, maxlen=3), 0    # the bracket's last three widths
    while hi - lo > rel_tol * hi:
        t = 0.5 * (lo + hi)
        if np.isfinite(g_lo) and g_lo > g_hi and widths[-1] <= 0.5 * widths[0]:
            s_ = hi - g_hi * (hi - lo) / (g_hi - g_lo)
            if lo < s_ < hi:
                t = s_
        g, k, best = inst.excess(t)
        if g <= 0.0:
            hi, g_hi, k_hi, best_hi = t, g, k, best
            g_lo = g_lo * 0.5 if stuck == -1 else g_lo   # the same end kept twice: halve it (Illinois)
            stuck = -1
        else:
            lo, g_lo = t, g
            g_hi = g_hi * 0.5 if stuck == 1 else g_hi
            stuck = 1
        widths.append(hi - lo)
    return hi, k_hi, spread_leftover(best_hi, inst.groups)


def _check_deadline(cm: CostModel, inst: PslInstance, T: float) -> None:
    cap = cm.scn.spec.constraints.max_round_latency
    if cap is None or T <= cap * (1 + 1e-9):
        return
    b = inst.least(cap, cap=False)
    best = b.min(axis=1)
    if not np.all(np.isfinite(best)):
        i = int(np.argmax(~np.isfinite(best)))
        raise InfeasibleError(f"max_round_latency {fmt_si(cap, 's')}: {inst.devices[i]} cannot finish a round in "
                              f"time with any cut, even with the whole channel (the least psl round is "
                              f"{fmt_si(T, 's')})", node=inst.devices[i], resource="latency", needed=T, available=cap)
    for ch, pos in inst.groups.items():
        tot = best[pos].sum()
        if tot > 1:
            raise InfeasibleError(f"max_round_latency {fmt_si(cap, 's')} needs channel shares summing to "
                                  f"{tot:.3g} on '{ch}' (the least psl round is {fmt_si(T, 's')})",
                                  resource="channel", needed=float(tot), available=1.0)


def _decisions(inst: PslInstance, k, share, alpha=None) -> dict:
    return {"devices": inst.devices, "server": inst.server, "cuts": inst.cuts[np.asarray(k)],
            "share": np.asarray(share, float), "alpha": alpha}


# ---------------------------------------------------------------- solvers

def needs_milp(cm: CostModel) -> bool:
    """Server shares, several servers and energy objectives are the MILP's (psl_milp)."""
    spec = cm.scn.spec
    return bool(spec.paradigms.psl.server_shares or spec.paradigms.psl.servers or cm.objective != "latency")


def exact(cm: CostModel) -> Solution:
    """The latency optimum for one server with equal server shares (callers send the rest to the
    MILP: needs_milp)."""
    inst = instance(cm)
    _explain(cm, inst)
    T, k, share = solve_exact(inst)
    _check_deadline(cm, inst, T)
    return Solution(_decisions(inst, k, share), "optimal", 0.0, {"bisection_round_latency_s": T})


def common(cm: CostModel) -> Solution:
    """Best common cut with equal shares (memory respected)."""
    inst = instance(cm)
    _explain(cm, inst)
    eq = cm.equal_shares(inst.devices, inst.R)
    T = _times(inst, eq)
    T = np.where(inst.fits, T, np.inf).max(axis=0)
    c = int(np.argmin(T))
    if not np.isfinite(T[c]):
        raise InfeasibleError("no cut fits every device's memory at once; try per-device cuts (psl exact)",
                              resource="memory")
    return Solution(_decisions(inst, np.full(len(inst.devices), c), eq), "baseline")


def percut(cm: CostModel) -> Solution:
    """Each device its best cut at equal shares."""
    inst = instance(cm)
    _explain(cm, inst)
    eq = cm.equal_shares(inst.devices, inst.R)
    T = np.where(inst.fits, _times(inst, eq), np.inf)
    return Solution(_decisions(inst, np.argmin(T, axis=1), eq), "baseline")


def alternating(cm: CostModel, max_iter: int = 50) -> Solution:
    """EdgeSplit-style alternation from the equal-share per-device cuts: shares given cuts
    (min-max bisection), then cuts given shares, until the cuts repeat."""
    inst = instance(cm)
    _explain(cm, inst)
    share = cm.equal_shares(inst.devices, inst.R)
    k = np.argmin(np.where(inst.fits, _times(inst, share), np.inf), axis=1)
    seen = set()
    rows = np.arange(len(k))
    for it in range(max_iter):
        sub = PslInstance(inst.devices, inst.server, inst.R, inst.cuts[k], inst.A[rows, k][:, None],
                          inst.U[rows, k][:, None], inst.D[rows, k][:, None], inst.fits[rows, k][:, None],
                          inst.beta_e[rows, k][:, None], inst.alpha)
        _, _, share = solve_exact(sub)
        k_new = np.argmin(np.where(inst.fits, _times(inst, share), np.inf), axis=1)
        key = tuple(k_new)
        if np.array_equal(k_new, k) or key in seen:
            k = k_new
            break
        seen.add(key)
        k = k_new
    return Solution(_decisions(inst, k, share), "heuristic", None, {"iterations": it + 1})


def _times(inst: PslInstance, share) -> np.ndarray:
    """(N, C) round times at the given per-device shares."""
    R = inst.R
    s = np.asarray(share, float)[:, None]
    with np.errstate(divide="ignore"):
        ru = R.rate(np.broadcast_to(s, (len(s), 1))[:, 0], True)[:, None]
        rd = R.rate(np.broadcast_to(s, (len(s), 1))[:, 0], False)[:, None]
        ch = np.where(inst.U > 0, 8.0 * inst.U / ru, 0.0) + np.where(inst.D > 0, 8.0 * inst.D / rd, 0.0)
    return inst.A + np.where(R.has_ch[:, None], ch, 0.0)
