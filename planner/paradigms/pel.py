"""pel: partitioned edge learning. Decisions: each worker's block (whole units with compute
`backprop`, a parameter count with `per_parameter`, PABA's model) and its bandwidth share."""

from __future__ import annotations

import numpy as np

from .. import pel_costs as PC
from ..costs import CostModel
from ..errors import PlanError
from ..pel_costs import backprop
from .base import DECISIONS, Paradigm, Solution, SolverSpec, detail_node, number


def active_workers(d: dict) -> list[str]:
    """The workers that hold a block: the others sit the round out (no data of theirs trains)."""
    return [n for n, k in zip(d["devices"], d["params"]) if k > 0]


def _per_parameter(cm: CostModel) -> bool:
    return not backprop(cm)


def _by_compute(layers, paba):
    """One method name for both compute models: the whole-unit solver under backprop, PABA's
    under per_parameter."""
    def run(cm: CostModel) -> Solution:
        return layers(cm) if backprop(cm) else paba(cm)
    run.__doc__ = (layers.__doc__ or "") + (paba.__doc__ or "")
    return run


class PEL(Paradigm):
    name = "pel"
    title = "partitioned edge learning"

    def __init__(self):
        from ..solvers import pel_layers as B
        from ..solvers import pel_solvers as S
        self.solvers = {
            "joint": SolverSpec(_by_compute(B.joint, S.joint), "exact",
                                "the joint optimum: backprop, bisection on T around an exact cover of the layers by "
                                "blocks (DP); per_parameter, Newton on T around a water-filling (PABA)"),
            "milp": SolverSpec(B.milp, "milp", "backprop: bisection on T around the block cover as a pyomo + HiGHS "
                               "MILP (the reference; several channels)", backprop),
            "heuristic": SolverSpec(B.heuristic, "heuristic", "backprop: relaxed cover, cheapest free worker per "
                                    "block; the gap to a lower bound reported (large fleets)", backprop),
            "cvxpy": SolverSpec(S.joint_cvxpy, "convex", "per_parameter: the joint optimum with the inner problem "
                                "in cvxpy (Clarabel)", _per_parameter),
            "bandwidth_aware": SolverSpec(_by_compute(B.bandwidth_aware, S.bandwidth_aware), "heuristic",
                                          "equal bandwidth; blocks so every worker finishes together"),
            "parameter_aware": SolverSpec(_by_compute(B.parameter_aware, S.parameter_aware), "heuristic",
                                          "equal blocks; bandwidth so every worker finishes together"),
            "equal": SolverSpec(_by_compute(B.equal, equal), "baseline", "equal blocks and equal bandwidth"),
        }
        self.default = "joint"

    def configuration(self, cm, d):
        n = len(active_workers(d))      # one worker's block is the whole model: the downloads agree
        return f"pel workers={n}" + (" download=model" if n > 1 and PC.whole_model_down(cm) else "")

    def per_configuration(self, cm, method):
        if method == "joint" and backprop(cm):
            from ..solvers import pel_layers as B
            return B.per_count(cm)
        return super().per_configuration(cm, method)

    def cost(self, cm, d):
        return PC.pel(cm, d["params"], d["share_up"], d.get("share_dn"), d["server"], d["devices"], d.get("blocks"))

    def rows(self, cm, d):
        devs = d["devices"]
        srv = d["server"]
        R = cm.routes(devs, [srv] * len(devs))
        grouped = PC.pel_groups(cm, devs)
        groups = {i: k for k, g in enumerate(grouped) for i in g}
        shared = any(len(g) > 1 for g in grouped) or not backprop(cm)
        blocks = d.get("blocks")
        rows = []
        for i, n in enumerate(devs):
            r = {"node": n, "role": "device", "parameters": float(d["params"][i]),
                 "channel_share": float(d["share_up"][i]), "bandwidth_hz": float(d["share_up"][i] * R.bw[i])}
            if shared:
                r["block"] = int(groups[i])
            if blocks is not None:
                r["units"] = None if blocks[i] is None else [int(x) for x in blocks[i]]
            if d.get("share_dn") is not None:
                r["channel_share_down"] = float(d["share_dn"][i])
                r["bandwidth_down_hz"] = float(d["share_dn"][i] * R.bw[i])
            rows.append(r)
        P, Q, c = PC.pel_setup(cm)
        detail = {"server": srv, "parameters": P, "bits_per_parameter": Q,
                  "compute": cm.scn.spec.paradigms.pel.compute, "bandwidth": cm.scn.spec.paradigms.pel.bandwidth,
                  "active_workers": len(active_workers(d)), "download": cm.scn.spec.paradigms.pel.download}
        if not backprop(cm):
            detail["flops_per_parameter"] = "from the model" if c is None else c
        return rows, detail

    decision_keys = DECISIONS["pel"]

    def decode(self, cm, plan):
        rows = self.device_rows(cm, plan, ("channel_share",) if backprop(cm) else ("parameters", "channel_share"))
        dn = None
        if any("channel_share_down" in r for r in rows):
            dn = np.array([number(r, "channel_share_down", 0, 1, default=None) for r in rows])
        blocks = None
        if backprop(cm):
            if not any("units" in r for r in rows) and any(float(r.get("parameters") or 0) > 0 for r in rows):
                raise PlanError("the plan gives workers parameter counts, not units: it was made for compute: "
                                "per_parameter; re-plan with `edgeplan plan` for this scenario's backprop compute")
            blocks = [r.get("units") for r in rows]
        elif any(r.get("units") for r in rows):
            raise PlanError("the plan gives workers blocks of units (compute: backprop); this scenario uses compute: "
                            "per_parameter; re-plan with `edgeplan plan`")
        params = np.array([number(r, "parameters", 0, None, default=0.0) for r in rows])
        return {"devices": [r["node"] for r in rows], "params": params,
                "share_up": np.array([number(r, "channel_share", 0, 1) for r in rows]), "share_dn": dn,
                "server": detail_node(cm, plan, "server"), "blocks": blocks}


def equal(cm: CostModel) -> Solution:
    """Equal parameters and equal shares (per_parameter)."""
    devs, srv = cm.devices, cm.server()
    R = cm.routes(devs, [srv] * len(devs))
    P, _, _ = PC.pel_setup(cm)
    groups = PC.pel_groups(cm, devs)
    Lk = np.zeros(len(devs))
    for g in groups:
        Lk[g] = P / len(groups)
    share = cm.equal_shares(devs, R)
    sep = cm.scn.spec.paradigms.pel.bandwidth == "separate"
    return Solution({"devices": devs, "server": srv, "params": Lk, "share_up": share,
                     "share_dn": share.copy() if sep else None}, "baseline")
