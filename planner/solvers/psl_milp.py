"""psl as a pyomo model solved by HiGHS: the general form the exact bisection cannot take.

Latency objective: bisection on the round time T around an assignment MILP. A binary x picks,
per device, a server s, a cut c and (when server shares are allocated) a server-share level q;
at T the least channel share of each choice is a constant (closed form, planner.solvers.shares),
so the channel constraints  sum beta_isc(T) x <= 1  and the server constraints  sum alpha_q x <= 1
are linear. The model is built once with mutable coefficients and re-costed per bisection step.

Energy and weighted objectives: a binary per (device, cut, share level r) with its round time
and energy as constants; minimise sum energy (+ w * T with T >= each chosen round time) under
the channel budget, max_round_latency and the per-device energy budget.
"""

from __future__ import annotations

import numpy as np

from ..costs import CostModel
from ..errors import InfeasibleError
from ..units import fmt_si
from .common import Solution
from .psl_solvers import _explain, instance, solve_exact

ALPHA_LEVELS = 12
BETA_LEVELS = 24


def _pyo():
    import pyomo.environ as pyo
    return pyo


def _solver(time_limit: float = 120.0):
    from .highs import Highs
    return Highs(time_limit)


def solve_milp(cm: CostModel) -> Solution:
    obj = cm.objective
    if obj == "latency":
        return _latency(cm)
    return _energy(cm)


def _servers(cm: CostModel) -> list[str]:
    return list(cm.scn.spec.paradigms.psl.servers or [cm.server()])


def _latency(cm: CostModel) -> Solution:
    pyo = _pyo()
    servers = _servers(cm)
    allocate = cm.scn.spec.paradigms.psl.server_shares or len(servers) > 1
    n = len(cm.devices)
    levels = _alpha_levels(n) if allocate else np.array([1.0 / n])
    insts = {(s, q): instance(cm, alpha=np.full(n, levels[q]), server=s, allow_missing=len(servers) > 1)
             for s in servers for q in range(len(levels))}
    if len(servers) == 1:
        _explain(cm, next(iter(insts.values())))
    C = len(next(iter(insts.values())).cuts)
    keys = [(i, s, c, q) for i in range(n) for s in servers for c in range(C) for q in range(len(levels))]
    m = pyo.ConcreteModel()
    m.x = pyo.Var(keys, domain=pyo.Binary)
    m.beta = pyo.Param(keys, mutable=True, initialize=0.0)
    by_dev: dict[int, list] = {}
    for k in keys:
        by_dev.setdefault(k[0], []).append(k)
    m.one = pyo.Constraint(range(n), rule=lambda md, i: sum(md.x[k] for k in by_dev[i]) == 1)
    # the channel a choice uses depends on the server it routes to
    on = {}
    for k in keys:
        ch = insts[(k[1], k[3])].R.channel[k[0]]
        if ch is not None:
            on.setdefault(ch, []).append(k)
    m.chan = pyo.Constraint(list(on), rule=lambda md, ch: sum(md.beta[k] * md.x[k] for k in on[ch]) <= 1)
    if allocate:
        by_srv: dict[str, list] = {}
        for k in keys:
            by_srv.setdefault(k[1], []).append(k)
        m.srv = pyo.Constraint(servers, rule=lambda md, s: sum(levels[k[3]] * md.x[k] for k in by_srv[s]) <= 1)
    m.obj = pyo.Objective(expr=sum(m.beta[k] * m.x[k] for k in keys), sense=pyo.minimize)
    opt = _solver()

    def feasible(T: float) -> bool:
        for (s, q), inst in insts.items():
            b = inst.least(T)
            for i in range(n):
                for c in range(C):
                    v, k = b[i, c], (i, s, c, q)
                    if np.isfinite(v):   # a choice that cannot meet T is ruled out
                        m.beta[k] = float(v)
                        m.x[k].unfix()
                    else:
                        m.beta[k] = 0.0
                        m.x[k].fix(0)
        return opt.solve(m)

    # bracket T with the exact single-server, equal-share optimum (an upper bound here)
    base = instance(cm, server=servers[0])
    hi, _, _ = solve_exact(base)
    # no round is shorter than the slowest device's best channel-free time
    lo = float(np.max(np.min([np.min(np.where(i.fits, i.A, np.inf), axis=1) for i in insts.values()], axis=0)))
    lo = min(lo, hi) * (1 - 1e-12)
    hi *= 1.0 + 1e-9
    if not feasible(hi):
        raise InfeasibleError("the psl MILP found no assignment at the equal-share optimum (unexpected)")
    best = {k: pyo.value(m.x[k]) for k in keys}
    while hi - lo > 1e-9 * hi:
        mid = 0.5 * (lo + hi)
        if feasible(mid):
            hi = mid
            best = {k: pyo.value(m.x[k]) for k in keys}
        else:
            lo = mid
    chosen = [next(k for k in keys if k[0] == i and best[k] > 0.5) for i in range(n)]
    # shares at T*: the least ones, leftover spread on each channel
    share = np.zeros(n)
    groups: dict[str, list[int]] = {}
    for (i, s, c, q) in chosen:
        share[i] = insts[(s, q)].least(hi)[i, c]
        ch = insts[(s, q)].R.channel[i]
        if ch is not None:
            groups.setdefault(ch, []).append(i)
    from .shares import spread_leftover
    share = spread_leftover(share, {ch: np.array(v) for ch, v in groups.items()})
    cuts_idx = np.array([k[2] for k in chosen])
    inst0 = next(iter(insts.values()))
    d = {"devices": cm.devices, "cuts": inst0.cuts[cuts_idx], "share": share,
         "server": [k[1] for k in chosen] if len(servers) > 1 else servers[0],
         "alpha": np.array([levels[k[3]] for k in chosen]) if allocate else None}
    if allocate:
        d["alpha"] = _spread_alpha(d["alpha"], [k[1] for k in chosen])
    _deadline(cm, hi)
    gap = None if allocate else 0.0
    return Solution(d, "optimal" if not allocate else "heuristic", gap,
                    {"bisection_round_latency_s": hi, "alpha_levels": len(levels) if allocate else None})


def _alpha_levels(n: int) -> np.ndarray:
    """Server-share levels: equal share, and a geometric grid around it."""
    eq = 1.0 / n
    grid = np.geomspace(eq / 4, min(1.0, eq * 8), ALPHA_LEVELS - 1)
    return np.unique(np.concatenate([[eq], grid]))


def _spread_alpha(alpha: np.ndarray, servers: list[str]) -> np.ndarray:
    a = np.array(alpha, float)
    for s in set(servers):
        pos = np.array([x == s for x in servers])
        a[pos] = a[pos] / a[pos].sum()
    return a


def _deadline(cm: CostModel, T: float) -> None:
    cap = cm.scn.spec.constraints.max_round_latency
    if cap is not None and T > cap * (1 + 1e-9):
        raise InfeasibleError(f"max_round_latency {fmt_si(cap, 's')} cannot be met: the least psl round is "
                              f"{fmt_si(T, 's')}", resource="latency", needed=T, available=cap)


def _energy(cm: CostModel) -> Solution:
    """Energy or weighted objective over (device, cut, share level)."""
    pyo = _pyo()
    from .. import costs as Cst

    obj = cm.objective
    inst = instance(cm)
    _explain(cm, inst)
    n, C = inst.A.shape
    eq = cm.equal_shares(inst.devices, inst.R)
    levels = np.unique(np.concatenate([np.geomspace(1e-3, 1.0, BETA_LEVELS), eq]))
    T = np.full((n, C, len(levels)), np.inf)
    E = np.full((n, C, len(levels)), np.inf)
    budget = cm.scn.spec.constraints.max_device_energy
    cap = cm.scn.spec.constraints.max_round_latency
    d, s = cm.ix(inst.devices), np.full(n, cm.idx[inst.server])
    b = cm.batch[d]
    for r, lv in enumerate(levels):
        share = np.full(n, lv)
        for c in range(C):
            cuts = np.full(n, inst.cuts[c])
            t_i = Cst.psl_terms(cm, inst.R, d, s, b, cuts, share, inst.alpha)["T"]
            e_i, dev_e = Cst.psl_energy(cm, inst.R, d, s, b, cuts, share)
            ok = inst.fits[:, c] & np.isfinite(t_i)
            if budget is not None:
                ok &= dev_e <= budget * (1 + 1e-9)
            if cap is not None:
                ok &= t_i <= cap * (1 + 1e-9)
            T[ok, c, r] = t_i[ok]
            E[ok, c, r] = e_i[ok]
    keys = [(i, c, r) for i in range(n) for c in range(C) for r in range(len(levels)) if np.isfinite(E[i, c, r])]
    for i in range(n):
        if not any(k[0] == i for k in keys):
            raise InfeasibleError(f"{inst.devices[i]}: no cut and channel share meets the constraints "
                                  "(memory, max_round_latency, max_device_energy)", node=inst.devices[i])
    m = pyo.ConcreteModel()
    m.x = pyo.Var(keys, domain=pyo.Binary)
    m.T = pyo.Var(domain=pyo.NonNegativeReals)
    by_dev: dict[int, list] = {}
    for k in keys:
        by_dev.setdefault(k[0], []).append(k)
    m.one = pyo.Constraint(range(n), rule=lambda md, i: sum(md.x[k] for k in by_dev[i]) == 1)
    groups = {ch: set(pos.tolist()) for ch, pos in inst.groups.items()}
    m.chan = pyo.Constraint(list(groups), rule=lambda md, ch: sum(levels[k[2]] * md.x[k] for k in keys
                                                                   if k[0] in groups[ch]) <= 1)
    m.tmax = pyo.Constraint(range(n), rule=lambda md, i: md.T >= sum(T[k] * md.x[k] for k in by_dev[i]))
    energy = sum(E[k] * m.x[k] for k in keys)
    if obj == "energy":
        m.obj = pyo.Objective(expr=energy + 1e-9 * m.T, sense=pyo.minimize)
    else:
        m.obj = pyo.Objective(expr=obj.latency * m.T + obj.energy * energy, sense=pyo.minimize)
    if not _solver().solve(m):
        raise InfeasibleError("no cut and share assignment fits the channel budget under the constraints",
                              resource="channel")
    chosen = sorted(k for k in keys if pyo.value(m.x[k]) > 0.5)
    cuts = inst.cuts[np.array([k[1] for k in chosen])]
    share = np.array([levels[k[2]] for k in chosen])
    return Solution({"devices": inst.devices, "server": inst.server, "cuts": cuts, "share": share, "alpha": None},
                    "optimal", None, {"share_levels": len(levels), "note": "optimal over the share levels"})
