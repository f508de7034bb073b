"""fpl: flexible parallel learning. Decisions: the junction, branch groups, the trunk node,
channel shares and trunk shares."""

from __future__ import annotations

import numpy as np

from .. import costs as C
from ..costs import CostModel
from ..errors import PlanError
from ..solvers.common import fpl_groups
from .base import DECISIONS, Paradigm, Solution, SolverSpec, detail_node, integer, number, text


class FPL(Paradigm):
    name = "fpl"
    title = "flexible parallel learning"

    def __init__(self):
        from ..solvers import fpl_solvers as S
        self.solvers = {
            "exact": SolverSpec(S.exact, "exact", "enumeration of junction and trunk with min-max shares"),
            "milp": SolverSpec(S.milp, "milp", "pyomo + HiGHS over trunk placement and shares, enumerated over "
                               "junction positions"),
            "last_layer": SolverSpec(_last_layer, "baseline", "junction before the last layer, trunk on the "
                                     "server, equal shares"),
        }
        # exact proves the same optimum as the MILP (the tests hold them to brute force) in about
        # 50 ms where the MILP takes 4-21 s on the shipped scenarios
        self.default = "exact"
        self.fastest = "exact"

    def configuration(self, cm, d):
        return f"fpl j={int(d['junction'])} groups={len(set(d['groups'].values()))}"

    def per_configuration(self, cm, method):
        from ..solvers import fpl_solvers as S
        rows = {"exact": S.exact_rows, "milp": S.milp_rows}.get(method)
        return [sol for _, sol in rows(cm)] if rows else super().per_configuration(cm, method)

    def cost(self, cm, d):
        return C.fpl(cm, d["junction"], d["groups"], d["trunk"], d["share"], d.get("alpha"), d["devices"])

    def rows(self, cm, d):
        rows = []
        for i, n in enumerate(d["devices"]):
            r = {"node": n, "role": "device", "group": d["groups"][n], "junction": int(d["junction"]),
                 "channel_share": float(d["share"][i])}
            if d.get("alpha") is not None:
                r["server_share"] = float(d["alpha"][i])
            rows.append(r)
        G = len(set(d["groups"].values()))
        extra = C.junction_extra_bytes(cm, int(d["junction"]), G)
        return rows, {"trunk": d["trunk"], "junction": int(d["junction"]), "groups": G,
                      "trunk_shares": "allocated" if d.get("alpha") is not None else "equal",
                      "junction_unit": cm.table.names[int(d["junction"]) + 1],
                      "junction_extra_params": int(round(extra / max(cm.scn.spec.model.bytes_per_value, 1))),
                      "junction_extra_bytes": extra}

    decision_keys = DECISIONS["fpl"]

    def decode(self, cm, plan):
        rows = self.device_rows(cm, plan, ("group", "junction", "channel_share"))
        js = {integer(r, "junction", 0, cm.L - 1, f"the model has {cm.L} units") for r in rows}
        if len(js) != 1:
            raise PlanError(f"fpl has one junction position; the plan has {sorted(js)}")
        if "trunk" not in plan.paradigm_detail:
            raise PlanError("paradigm_detail.trunk is missing: the node that runs the junction and the trunk")
        trunk = detail_node(cm, plan, "trunk")
        alpha = None
        if any("server_share" in r for r in rows):
            alpha = np.array([number(r, "server_share", 0, 1, default=None) for r in rows])
        return {"devices": [r["node"] for r in rows], "junction": js.pop(), "trunk": trunk,
                "groups": {r["node"]: text(r, "group") for r in rows},
                "share": np.array([number(r, "channel_share", 0, 1) for r in rows]), "alpha": alpha}


def trunk_default(cm: CostModel) -> str:
    t = cm.scn.spec.paradigms.fpl.trunk
    return t if t != "auto" else cm.server()


def _last_layer(cm: CostModel) -> Solution:
    devs = cm.devices
    trunk = trunk_default(cm)
    j = cm.L - 1 if cm.scn.spec.paradigms.fpl.junction == "auto" else int(cm.scn.spec.paradigms.fpl.junction)
    R = cm.routes(devs, [trunk] * len(devs))
    return Solution({"devices": devs, "junction": j, "trunk": trunk, "groups": fpl_groups(cm, devs),
                     "share": cm.equal_shares(devs, R), "alpha": None}, "baseline")
