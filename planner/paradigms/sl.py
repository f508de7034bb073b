"""sl: vanilla split learning. Decisions: the one cut (enumerated) and the server."""

from __future__ import annotations

import numpy as np

from .. import costs as C
from ..costs import CostModel
from ..errors import InfeasibleError
from ..solvers.common import cut_range, half_flops_cut
from ..units import fmt_si
from .base import DECISIONS, Paradigm, Solution, SolverSpec, detail_node, integer, number


class SL(Paradigm):
    name = "sl"
    title = "split learning"

    def __init__(self):
        self.solvers = {
            "exact": SolverSpec(_exact, "exact", "best common cut by enumeration, under device memory"),
            "uniform": SolverSpec(_uniform, "baseline", "the cut that halves the training FLOPs"),
        }
        self.default = "exact"

    def cost(self, cm, d):
        return C.sl(cm, d["cut"], d["server"], d["devices"])

    def rows(self, cm, d):
        return ([{"node": n, "role": "device", "cut": int(d["cut"]), "channel_share": 1.0} for n in d["devices"]],
                {"server": d["server"], "cut": int(d["cut"]), "order": list(d["devices"])})

    decision_keys = DECISIONS["sl"]

    def decode(self, cm, plan):
        rows = self.device_rows(cm, plan, ("cut",))
        cuts = {integer(r, "cut", 0, cm.L, f"the model has {cm.L} units") for r in rows}
        if len(cuts) != 1:
            from ..errors import PlanError
            raise PlanError(f"sl uses one cut for every device; the plan has {sorted(cuts)}")
        for r in rows:
            if "channel_share" in r:
                number(r, "channel_share", 0, 1)
        return {"devices": [r["node"] for r in rows], "cut": cuts.pop(), "server": detail_node(cm, plan, "server")}


def _uniform(cm: CostModel) -> Solution:
    lo, hi = cut_range(cm, "sl")
    return Solution({"devices": cm.devices, "server": cm.server(), "cut": half_flops_cut(cm, lo, hi)}, "baseline")


def _exact(cm: CostModel) -> Solution:
    lo, hi = cut_range(cm, "sl")
    devs, srv = cm.devices, cm.server()
    d = cm.ix(devs)
    b = cm.batch[d]
    mem = cm.Wm[None, lo:hi + 1] + b[:, None] * cm.A[None, lo:hi + 1]
    fits = np.all(mem <= cm.memory[d][:, None], axis=0)
    if not fits.any():
        worst = int(np.argmax(mem.min(axis=1) - cm.memory[d]))
        raise InfeasibleError(f"{devs[worst]}: no cut in {lo}..{hi} fits {fmt_si(cm.memory[d][worst], 'B', True)}; "
                              f"the smallest needs {fmt_si(mem[worst].min(), 'B', True)}",
                              node=devs[worst], resource="memory", needed=float(mem[worst].min()),
                              available=float(cm.memory[d][worst]))
    obj = cm.objective
    best, best_c = np.inf, None
    for k, c in enumerate(range(lo, hi + 1)):
        if not fits[k]:
            continue
        cost = C.sl(cm, c, srv, devs)
        v = cost.objective(obj) + (0 if cost.feasible else 1e30)
        if v < best:
            best, best_c = v, c
    if best_c is None:
        raise InfeasibleError(f"no cut in {lo}..{hi} gives a finite sl round (every cut's round overflows: check the "
                              "scenario's rates and compute)", resource="latency")
    return Solution({"devices": devs, "server": srv, "cut": best_c}, "optimal", 0.0)
