"""pel: partitioned edge learning (PABA). Decisions: parameters L_k and bandwidth B_k per worker."""

from __future__ import annotations

import numpy as np

from .. import costs as C
from ..costs import CostModel
from .base import Paradigm, Solution, SolverSpec


class PEL(Paradigm):
    name = "pel"
    title = "partitioned edge learning"

    def __init__(self):
        from ..solvers import pel_solvers as S
        self.solvers = {
            "joint": SolverSpec(S.joint, "exact", "joint parameter and bandwidth allocation: bisection (Newton) "
                                "on T around a water-filling (PABA's optimum)"),
            "cvxpy": SolverSpec(S.joint_cvxpy, "convex", "the same joint optimum, inner problem in cvxpy (Clarabel)"),
            "bandwidth_aware": SolverSpec(S.bandwidth_aware, "heuristic", "equal bandwidth; parameters so "
                                          "every worker finishes together"),
            "parameter_aware": SolverSpec(S.parameter_aware, "heuristic", "equal parameters; bandwidth so "
                                          "every worker finishes together"),
            "equal": SolverSpec(equal, "baseline", "equal parameters and equal bandwidth"),
        }
        self.default = "joint"

    def configuration(self, cm, d):
        return f"pel workers={int(np.count_nonzero(np.asarray(d['params']) > 0))}"

    def cost(self, cm, d):
        return C.pel(cm, d["params"], d["share_up"], d.get("share_dn"), d["server"], d["devices"])

    def rows(self, cm, d):
        devs = d["devices"]
        srv = d["server"]
        R = cm.routes(devs, [srv] * len(devs))
        groups = {i: k for k, g in enumerate(C.pel_groups(cm, devs)) for i in g}
        rows = []
        for i, n in enumerate(devs):
            r = {"node": n, "role": "device", "parameters": float(d["params"][i]),
                 "channel_share": float(d["share_up"][i]), "bandwidth_hz": float(d["share_up"][i] * R.bw[i]),
                 "block": int(groups[i])}
            if d.get("share_dn") is not None:
                r["channel_share_down"] = float(d["share_dn"][i])
                r["bandwidth_down_hz"] = float(d["share_dn"][i] * R.bw[i])
            rows.append(r)
        P, Q, c = C.pel_setup(cm)
        return rows, {"server": srv, "parameters": P, "bits_per_parameter": Q,
                      "flops_per_parameter": "from the model" if c is None else c,
                      "bandwidth": cm.scn.spec.paradigms.pel.bandwidth}

    def decode(self, cm, plan):
        rows = self.device_rows(cm, plan, ("parameters", "channel_share"))
        dn = None
        if any("channel_share_down" in r for r in rows):
            dn = np.array([r.get("channel_share_down", np.nan) for r in rows], float)
        return {"devices": [r["node"] for r in rows], "params": np.array([r["parameters"] for r in rows], float),
                "share_up": np.array([r["channel_share"] for r in rows], float), "share_dn": dn,
                "server": plan.paradigm_detail.get("server") or cm.server()}


def equal(cm: CostModel) -> Solution:
    devs, srv = cm.devices, cm.server()
    R = cm.routes(devs, [srv] * len(devs))
    P, _, _ = C.pel_setup(cm)
    groups = C.pel_groups(cm, devs)
    Lk = np.zeros(len(devs))
    for g in groups:
        Lk[g] = P / len(groups)
    share = cm.equal_shares(devs, R)
    sep = cm.scn.spec.paradigms.pel.bandwidth == "separate"
    return Solution({"devices": devs, "server": srv, "params": Lk, "share_up": share,
                     "share_dn": share.copy() if sep else None}, "baseline")
