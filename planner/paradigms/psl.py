"""psl: parallel split learning (EdgeSplit). Decisions: a cut and a channel share per device,
optionally server compute shares and the server of each device."""

from __future__ import annotations

import numpy as np

from .. import costs as C
from ..costs import CostModel
from ..errors import PlanError
from ..solvers.common import cut_range, half_flops_cut
from .base import DECISIONS, Paradigm, Solution, SolverSpec, detail_node, integer, number, text


class PSL(Paradigm):
    name = "psl"
    title = "parallel split learning"

    def __init__(self):
        from ..solvers import psl_solvers as S
        self.solvers = {
            "exact": SolverSpec(_exact, "exact", "bisection on the round time; per device the cut needing the "
                                "least share (provably optimal)"),
            "milp": SolverSpec(_milp, "milp", "pyomo + HiGHS: bisection on T around an assignment MILP; "
                               "server shares, energy budgets, several servers"),
            "uniform": SolverSpec(_uniform, "baseline", "the same cut for every device (halving the training "
                                  "FLOPs), equal channel shares"),
            "common": SolverSpec(S.common, "baseline", "the best common cut, equal channel shares"),
            "percut": SolverSpec(S.percut, "baseline", "each device its best cut at equal channel shares"),
            "alternating": SolverSpec(S.alternating, "heuristic", "EdgeSplit-style alternation: cuts given "
                                      "shares, shares given cuts, until nothing changes"),
        }
        self.default = "exact"

    def cost(self, cm, d):
        return C.psl(cm, d["cuts"], d["share"], d.get("alpha"), d["server"], d["devices"])

    def rows(self, cm, d):
        devs = d["devices"]
        n = len(devs)
        alpha = d.get("alpha")
        servers = d["server"] if isinstance(d["server"], list) else [d["server"]] * n
        rows = []
        for i, nm in enumerate(devs):
            r = {"node": nm, "role": "device", "cut": int(d["cuts"][i]), "channel_share": float(d["share"][i])}
            if alpha is not None:
                r["server_share"] = float(alpha[i])
            if isinstance(d["server"], list):
                r["server"] = servers[i]
            rows.append(r)
        detail = {"server": d["server"] if not isinstance(d["server"], list) else sorted(set(servers)),
                  "server_shares": "allocated" if alpha is not None else "equal"}
        return rows, detail

    decision_keys = DECISIONS["psl"]

    def decode(self, cm, plan):
        rows = self.device_rows(cm, plan, ("cut", "channel_share"))
        devs = [r["node"] for r in rows]
        if any("server" in r for r in rows):
            server = [text(r, "server") for r in rows]
            for r, s in zip(rows, server):
                if s not in cm.idx or cm.role[cm.idx[s]] == "device":
                    raise PlanError(f"assignment of '{r['node']}': server {s!r} is not a server, fog or cloud node "
                                    "of the scenario")
        else:
            server = detail_node(cm, plan, "server")
        alpha = None
        if any("server_share" in r for r in rows):
            alpha = np.array([number(r, "server_share", 0, 1, default=None) for r in rows])
        return {"devices": devs, "cuts": np.array([integer(r, "cut", 0, cm.L, f"the model has {cm.L} units") for r in rows]),
                "share": np.array([number(r, "channel_share", 0, 1) for r in rows]), "alpha": alpha, "server": server}


def _uniform(cm: CostModel) -> Solution:
    lo, hi = cut_range(cm, "psl")
    devs, srv = cm.devices, cm.server()
    c = half_flops_cut(cm, lo, hi)
    R = cm.routes(devs, [srv] * len(devs))
    return Solution({"devices": devs, "server": srv, "cuts": np.full(len(devs), c),
                     "share": cm.equal_shares(devs, R)}, "baseline")


def _milp(cm: CostModel) -> Solution:
    from ..solvers.psl_milp import solve_milp  # the MILP builds on psl_solvers, not the reverse
    return solve_milp(cm)


def _exact(cm: CostModel) -> Solution:
    from ..solvers import psl_solvers as S
    return _milp(cm) if S.needs_milp(cm) else S.exact(cm)
