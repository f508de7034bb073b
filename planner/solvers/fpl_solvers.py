"""fpl solvers: junction position, trunk placement and shares.

For a junction j and a trunk node t, each device's round is
    A_i(j, t) + channel time,   A_i = tau b_i (S_i(j) + (S_t(L) - S_t(j)) / alpha_i) + latencies + fixed hops
and the best channel shares are the min-max allocation (planner.solvers.shares). With
`paradigms.fpl.server_shares` the trunk shares alpha_i are allocated too: for a round time T the
least trunk-share sum has a closed form per channel (FplCase.least_trunk_shares), and a
bisection on T finds the least round. Junction positions are few, so both solvers enumerate them.

- `exact`: enumerate (j, t), min-max shares for each, keep the best by the scenario's objective.
- `milp`: per j, a pyomo model solved by HiGHS that places the trunk: a binary per candidate
  node; node capacity (the trunk's memory, its compute busy time within the round) and link
  capacity (the bits every flow puts on each fixed-rate link per round, within the round) as
  linear constraints; for the latency objective a bisection on T with the devices' least channel
  shares at T as coefficients, for energy or weighted objectives the costs at min-max shares.
"""

from __future__ import annotations

import itertools

import numpy as np

from .. import costs as C
from ..costs import CostModel
from ..errors import InfeasibleError
from ..units import fmt_si
from .common import Solution, fpl_groups
from .shares import channel_positions, fixed_part, least_shares, minmax_time, spread_leftover


def trunk_candidates(cm: CostModel) -> list[str]:
    from ..graph import shortest_path
    t = cm.scn.spec.paradigms.fpl.trunk
    if t != "auto":
        return [t]
    return [s for s in cm.scn.servers if all(shortest_path(cm.scn, d, s) is not None for d in cm.devices)]


def junctions(cm: CostModel) -> list[int]:
    j = cm.scn.spec.paradigms.fpl.junction
    if j != "auto":
        if not 0 <= int(j) <= cm.L - 1:
            raise InfeasibleError(f"paradigms.fpl.junction {j} is out of range 0..{cm.L - 1}")
        return [int(j)]
    return list(range(1, cm.L)) or [0]


class FplCase:
    """Coefficients for one (junction, trunk) pair."""

    def __init__(self, cm: CostModel, j: int, trunk: str, groups: dict[str, str]):
        self.cm, self.j, self.trunk, self.groups = cm, j, trunk, groups
        devs = cm.devices
        n = len(devs)
        self.R = R = cm.routes(devs, [trunk] * n)
        d, t, L, tau = cm.ix(devs), cm.idx[trunk], cm.L, cm.tau
        b = cm.batch[d]
        self.alpha = np.full(n, 1.0 / n)
        sizes = {}
        for g in groups.values():
            sizes[g] = sizes.get(g, 0) + 1
        multi = np.array([sizes[groups[x]] > 1 for x in devs])
        Wj = np.where(multi, cm.Wt[j], 0.0)
        self.trunk_c = tau * cm.span(t, j, L, b)   # trunk seconds per round on the whole node
        fixed = tau * cm.span(d, 0, j, b) + self.trunk_c / self.alpha
        up, dn = b * (cm.out[j] + cm.label), b * cm.grad_out(j)
        self.A, self.U, self.D = fixed_part(R, fixed, [(up, tau), Wj], [(dn, tau), Wj])
        self.up_bytes = tau * up + Wj
        self.dn_bytes = tau * dn + Wj
        G = len(set(groups.values()))
        self.dev_mem = cm.Wm[j] + b * cm.A[j]
        self.trunk_mem = (cm.Wm[L] - cm.Wm[j] + cm.kopt * C.junction_extra_bytes(cm, j, G)) + b.sum() * (cm.A[L] - cm.A[j])
        self.trunk_busy = float(self.trunk_c.sum())
        self.A0 = self.A - self.trunk_c / self.alpha          # A without the trunk's part
        self.positions = channel_positions(R)                 # channel -> its devices' positions
        # channel seconds per round at the whole channel (time = K / share on spectral channels)
        with np.errstate(divide="ignore", invalid="ignore"):      # devices off any channel: no channel time
            self.K = np.where(R.has_ch, 8.0 * (self.U + self.D) / (R.bw * np.nan_to_num(R.eta, nan=1.0)), 0.0)
        self.fits = bool(np.all(self.dev_mem <= cm.memory[d])) and self.trunk_mem <= cm.memory[t]

    def minmax(self) -> tuple[float, np.ndarray]:
        return minmax_time(self.R, self.A, self.U, self.D)

    def decisions(self, share, alpha=None) -> dict:
        return {"devices": self.cm.devices, "junction": self.j, "trunk": self.trunk, "groups": self.groups,
                "share": np.asarray(share, float), "alpha": None if alpha is None else np.asarray(alpha, float)}

    @property
    def can_allocate(self) -> bool:
        """Closed-form trunk shares need channel time K/beta: no Shannon-rate channel hop."""
        return not np.any(self.R.has_ch & np.isnan(self.R.eta))

    def least_trunk_shares(self, T: float) -> tuple[np.ndarray, np.ndarray]:
        """(alpha, beta): the trunk shares of least sum that let every device finish by T, with
        the channel shares that go with them. Per channel, minimising sum_i c_i / (s_i - K_i/beta_i)
        subject to sum beta_i = 1 (s_i the slack, K_i the channel seconds at share 1, c_i the trunk
        seconds on the whole node) equalises the marginals: beta_i = (K_i + sqrt(c_i K_i) X) / s_i
        with X = (1 - sum K_i/s_i) / sum sqrt(c_i K_i)/s_i. Devices off any channel need c_i/s_i.
        Infinite where some device cannot finish by T at all."""
        R = self.R
        n = len(self.A0)
        s = T - self.A0
        c, K = self.trunk_c, self.K
        alpha, beta = np.full(n, np.inf), np.zeros(n)
        if np.any(s <= 0):
            return alpha, beta
        ok = np.ones(n, bool)
        for pos in self.positions.values():
            room = 1.0 - (K[pos] / s[pos]).sum()
            r = np.sqrt(c[pos] * K[pos])
            if room <= 0:
                ok[pos] = False
                continue
            w = (r / s[pos]).sum()
            X = room / w if w > 0 else np.inf
            with np.errstate(divide="ignore", invalid="ignore"):
                beta[pos] = np.where(r > 0, (K[pos] + r * X) / s[pos], K[pos] / s[pos])
                alpha[pos] = np.where(r > 0, c[pos] * (K[pos] + r * X) / (s[pos] * r * X), c[pos] / s[pos])
        off = ~R.has_ch
        alpha[off] = c[off] / s[off]
        alpha[~ok] = np.inf
        return alpha, beta

    def allocate(self) -> tuple[float, np.ndarray, np.ndarray]:
        """(T, channel shares, trunk shares) of the least round with both allocated: bisection
        on T (the least trunk-share sum falls with T), starting from the equal-share optimum."""
        hi, share = self.minmax()
        if not np.isfinite(hi):
            return hi, share, self.alpha
        lo = float(np.max(self.A0))
        if self.least_trunk_shares(hi)[0].sum() > 1.0:   # numerically at the equal-share point
            hi *= 1 + 1e-12
        while hi - lo > 1e-12 * hi:
            mid = 0.5 * (lo + hi)
            if self.least_trunk_shares(mid)[0].sum() <= 1.0:
                hi = mid
            else:
                lo = mid
        alpha, beta = self.least_trunk_shares(hi)
        return hi, spread_leftover(beta, self.positions), alpha / alpha.sum()

    def link_bits(self) -> dict[tuple[int, bool], float]:
        """Bits per round each fixed-rate link carries in each direction, over all devices."""
        out: dict[tuple[int, bool], float] = {}
        for i, hops in enumerate(self.R.hops):
            for h, (ru, _) in zip(hops, self.R.hop_rates[i]):
                if ru is None:
                    continue
                out[(h.link, h.forward)] = out.get((h.link, h.forward), 0.0) + 8.0 * self.up_bytes[i]
                out[(h.link, not h.forward)] = out.get((h.link, not h.forward), 0.0) + 8.0 * self.dn_bytes[i]
        return out


def groupings(cm: CostModel) -> list[dict[str, str]]:
    """Candidate branch groupings. `groups: data_source`: one branch per data source. `auto`: for
    each data source, either one branch shared by its devices (averaged each round) or one branch
    per device (no averaging, a wider junction): all 2^S combinations for S sources (S <= 8)."""
    base = fpl_groups(cm, cm.devices)
    if cm.scn.spec.paradigms.fpl.groups != "auto":
        return [base]
    sources = sorted(set(base.values()))
    if len(sources) > 8:
        return [base, {d: d for d in cm.devices}]
    out = []
    for split in itertools.product((False, True), repeat=len(sources)):
        alone = {s for s, a in zip(sources, split) if a}
        out.append({d: (f"{g}/{d}" if g in alone else g) for d, g in base.items()})
    return out


def _cases(cm: CostModel):
    trunks = trunk_candidates(cm)
    if not trunks:
        raise InfeasibleError("no server, fog or cloud node is reachable from every device to hold the trunk",
                              resource="trunk")
    return [[FplCase(cm, j, t, g) for t in trunks] for j in junctions(cm) for g in groupings(cm)]


def _explain_none(cm: CostModel, cases) -> InfeasibleError:
    flat = [c for row in cases for c in row]
    worst_dev = min(flat, key=lambda c: float(np.max(c.dev_mem - cm.memory[cm.ix(cm.devices)])))
    over = worst_dev.dev_mem - cm.memory[cm.ix(cm.devices)]
    if np.max(over) > 0:
        i = int(np.argmax(over))
        return InfeasibleError(f"{cm.devices[i]}: no junction position fits its branch in "
                               f"{fmt_si(cm.memory[cm.ix(cm.devices)][i], 'B', True)}; the smallest needs "
                               f"{fmt_si(worst_dev.dev_mem[i], 'B', True)}", node=cm.devices[i], resource="memory")
    c = min(flat, key=lambda c: c.trunk_mem - cm.memory[cm.idx[c.trunk]])
    return InfeasibleError(f"{c.trunk}: the trunk needs {fmt_si(c.trunk_mem, 'B', True)} of memory, the node has "
                           f"{fmt_si(cm.memory[cm.idx[c.trunk]], 'B', True)}", node=c.trunk, resource="memory")


def exact(cm: CostModel, prefer: tuple[int, str] | None = None) -> Solution:
    return _pick(cm, exact_rows(cm, prefer), prefer)


def exact_rows(cm: CostModel, prefer: tuple[int, str] | None = None) -> list[tuple[float, Solution]]:
    """Per (junction, grouping): the best trunk with min-max shares, as (objective, Solution)."""
    cases = _cases(cm)
    obj = cm.objective
    out = []
    for row in cases:
        best, arg = np.inf, None
        for case in row:
            if not case.fits:
                continue
            T, share, alpha = _shares(cm, case)
            cost = C.fpl(cm, case.j, case.groups, case.trunk, share, alpha)
            if not cost.feasible:
                continue
            v = cost.objective(obj)
            better = v < best * (1 - 1e-12) or (prefer == (case.j, case.trunk) and v <= best * (1 + 1e-12))
            if better:
                best, arg = v, (case, share, alpha)
        if arg is not None:
            out.append((best, Solution(arg[0].decisions(arg[1], arg[2]), "optimal", 0.0)))
    if not out:
        raise _explain_none(cm, cases) if not any(c.fits for r in cases for c in r) else \
            InfeasibleError("no junction and trunk meets the scenario's constraints (max_round_latency, "
                            "max_device_energy)", resource="constraints")
    return out


def _pick(cm: CostModel, rows: list[tuple[float, Solution]], prefer) -> Solution:
    """The best row, as rows come (junction, then grouping): a later row wins only when strictly
    better, or when it is the preferred (junction, trunk) at an equal objective."""
    best, arg = np.inf, None
    for v, sol in rows:
        d = sol.decisions
        if v < best * (1 - 1e-12) or (prefer == (d["junction"], d["trunk"]) and v <= best * (1 + 1e-12)):
            best, arg = v, sol
    return arg


def _shares(cm: CostModel, case: FplCase) -> tuple[float, np.ndarray, np.ndarray | None]:
    """(T, channel shares, trunk shares or None for equal ones) of a case's least round."""
    if cm.scn.spec.paradigms.fpl.server_shares and case.can_allocate:
        return case.allocate()
    T, share = case.minmax()
    return T, share, None


def milp(cm: CostModel, prefer: tuple[int, str] | None = None) -> Solution:
    return _pick(cm, milp_rows(cm, prefer), prefer)


def milp_rows(cm: CostModel, prefer: tuple[int, str] | None = None) -> list[tuple[float, Solution]]:
    """Per (junction, grouping): the MILP's trunk placement and shares, as (objective, Solution)."""
    import pyomo.environ as pyo

    from .highs import Highs

    cases = _cases(cm)
    obj = cm.objective
    opt = Highs()
    out = []
    for row in cases:
        trunks = [c.trunk for c in row]
        m = pyo.ConcreteModel()
        m.y = pyo.Var(trunks, domain=pyo.Binary)
        m.one = pyo.Constraint(expr=sum(m.y[t] for t in trunks) == 1)
        # node capacity: memory and compute busy time (within T, added per step below)
        over = {c.trunk for c in row if c.trunk_mem > cm.memory[cm.idx[c.trunk]]}
        for t in over:
            m.y[t].fix(0)
        if not all(np.all(c.dev_mem <= cm.memory[cm.ix(cm.devices)]) for c in row):
            continue
        links = sorted({k for c in row for k in c.link_bits()})
        bits = {(c.trunk, k): c.link_bits().get(k, 0.0) for c in row for k in links}
        rate = {k: float(cm.scn.links.loc[k[0], "uplink" if k[1] else "downlink"]) for k in links}
        groups = row[0].positions
        m.T = pyo.Param(mutable=True, initialize=1.0)
        m.link = pyo.Constraint(links, rule=lambda md, lk, fw, bits=bits, trunks=trunks, rate=rate:
                                sum(bits[(t, (lk, fw))] * md.y[t] for t in trunks) <= rate[(lk, fw)] * md.T)
        m.busy = pyo.Constraint(expr=sum(c.trunk_busy * m.y[c.trunk] for c in row) <= m.T)
        m.beta = pyo.Param([(t, ch) for t in trunks for ch in groups], mutable=True, initialize=0.0)
        m.chan = pyo.Constraint(list(groups), rule=lambda md, ch, trunks=trunks:
                                sum(md.beta[(t, ch)] * md.y[t] for t in trunks) <= 1)
        # with allocated trunk shares: the chosen trunk's least share sum at T within 1
        alloc = cm.scn.spec.paradigms.fpl.server_shares and any(c.can_allocate for c in row)
        if alloc:
            m.need = pyo.Param(trunks, mutable=True, initialize=1.0)
            m.trunk_shares = pyo.Constraint(expr=sum(m.need[t] * m.y[t] for t in trunks) <= 1)
        if obj == "latency":
            m.obj = pyo.Objective(expr=sum(m.y[t] for t in trunks), sense=pyo.minimize)

            def feasible(T, m=m, row=row, groups=groups, over=over, trunks=trunks, alloc=alloc):
                m.T = T
                for c in row:
                    if alloc and c.can_allocate:   # the trunk shares' least sum; its channel shares fill 1
                        a, b = c.least_trunk_shares(T)
                        m.need[c.trunk] = float(a.sum()) if np.all(np.isfinite(a)) else 2.0
                        b = np.where(np.isfinite(a), b, np.inf)
                    else:
                        b = least_shares(c.R, c.A, c.U, c.D, T)
                    for ch, pos in groups.items():
                        v = b[pos].sum()
                        m.beta[(c.trunk, ch)] = float(v) if np.isfinite(v) else 2.0
                    # a device that cannot finish by T on any share rules this placement out
                    if c.trunk in over or not np.all(np.isfinite(b)):
                        m.y[c.trunk].fix(0)
                    else:
                        m.y[c.trunk].unfix()
                if not opt.solve(m):
                    return None
                return next(t for t in trunks if pyo.value(m.y[t]) > 0.5)

            lo, hi = 0.0, min((c.minmax()[0] for c in row if c.fits), default=np.inf)
            if not np.isfinite(hi):
                continue
            hi *= 1 + 1e-9
            t_best = feasible(hi)
            if t_best is None:
                continue
            while hi - lo > 1e-10 * hi:
                mid = 0.5 * (lo + hi)
                t = feasible(mid)
                if t is not None:
                    hi, t_best = mid, t
                else:
                    lo = mid
            case = row[trunks.index(t_best)]
            alpha = None
            if alloc and case.can_allocate:
                alpha, beta = case.least_trunk_shares(hi)
                share, alpha = spread_leftover(beta, groups), alpha / alpha.sum()
            else:
                share = spread_leftover(least_shares(case.R, case.A, case.U, case.D, hi), groups)
        else:
            # energy / weighted: each placement's cost at its min-max shares, under the latency cap
            vals = {}
            for c in row:
                T, share, alpha = _shares(cm, c)
                cost = C.fpl(cm, c.j, c.groups, c.trunk, share, alpha)
                vals[c.trunk] = (cost.objective(obj), share, T, cost.feasible, alpha)
                if not cost.feasible:
                    m.y[c.trunk].fix(0)
            m.T = max((v[2] for v in vals.values()), default=1.0)
            m.obj = pyo.Objective(expr=sum(vals[t][0] * m.y[t] for t in trunks), sense=pyo.minimize)
            if not opt.solve(m):
                continue
            t_best = next(t for t in trunks if pyo.value(m.y[t]) > 0.5)
            case = row[trunks.index(t_best)]
            share, alpha = vals[t_best][1], vals[t_best][4]
        cost = C.fpl(cm, case.j, case.groups, case.trunk, share, alpha)
        if cost.feasible:
            out.append((cost.objective(obj), Solution(case.decisions(share, alpha), "optimal", 0.0)))
    if not out:
        raise _explain_none(cm, cases) if not any(c.fits for r in cases for c in r) else \
            InfeasibleError("no junction and trunk placement meets the scenario's constraints", resource="constraints")
    return out
