"""fl: federated averaging. Decisions: the channel shares (and the aggregating server)."""

from __future__ import annotations

import numpy as np

from .. import costs as C
from ..costs import CostModel
from .base import DECISIONS, Paradigm, Solution, SolverSpec, detail_node, number


class FL(Paradigm):
    name = "fl"
    title = "federated learning"

    def __init__(self):
        self.solvers = {
            "exact": SolverSpec(_exact, "exact", "channel shares that equalise the devices' rounds (bisection)"),
            "equal": SolverSpec(_equal, "baseline", "equal channel shares"),
        }
        self.default = "exact"

    def cost(self, cm: CostModel, d: dict):
        return C.fl(cm, d["share"], d["server"], d["devices"])

    def rows(self, cm, d):
        return ([{"node": n, "role": "device", "channel_share": float(s)} for n, s in zip(d["devices"], d["share"])],
                {"server": d["server"]})

    decision_keys = DECISIONS["fl"]

    def decode(self, cm, plan):
        rows = self.device_rows(cm, plan, ("channel_share",))
        return {"devices": [r["node"] for r in rows],
                "share": np.array([number(r, "channel_share", 0, 1) for r in rows]),
                "server": detail_node(cm, plan, "server")}


def _base(cm: CostModel) -> dict:
    devs = cm.devices
    srv = cm.server()
    return {"devices": devs, "server": srv, "R": cm.routes(devs, [srv] * len(devs))}


def _equal(cm: CostModel) -> Solution:
    b = _base(cm)
    return Solution({"devices": b["devices"], "server": b["server"], "share": cm.equal_shares(b["devices"], b["R"])},
                    "baseline")


def _exact(cm: CostModel) -> Solution:
    from ..solvers.shares import minmax_shares
    b = _base(cm)
    devs, R = b["devices"], b["R"]
    d = cm.ix(devs)
    W = np.full(len(devs), cm.Wt[cm.L] * C.shared(len(devs)))
    fixed = cm.tau * cm.span(d, 0, cm.L, cm.batch[d])
    share, T = minmax_shares(cm, devs, R, fixed, W, W)
    return Solution({"devices": devs, "server": b["server"], "share": share}, "optimal", 0.0,
                    {"bisection_round_latency_s": T})
