"""dsgd: model parallelism along a path. Decisions: stage boundaries and the nodes holding them."""

from __future__ import annotations

import numpy as np

from ..costs import CostModel
from ..dsgd_costs import dsgd as dsgd_cost
from ..errors import PlanError
from ..solvers.dsgd_solvers import path_of, source_of
from .base import DECISIONS, Paradigm, Solution, SolverSpec, integer


class DSGD(Paradigm):
    name = "dsgd"
    title = "model parallelism (D-SGD)"

    def __init__(self):
        from ..solvers import dsgd_solvers as S
        self.solvers = {
            "exact": SolverSpec(S.dp, "exact", "dynamic programming over contiguous stages on the path, "
                                "replicated where paradigms.dsgd.replicas allows (PipeDream-style; exact for "
                                "the GPipe iteration time)"),
            "milp": SolverSpec(S.milp, "milp", "pyomo + HiGHS: stages and the nodes that hold them (a straight "
                               "pipeline: no replicated stages)",
                               applies=lambda cm: cm.scn.spec.paradigms.dsgd.replicas == 1),
            "equal_flops": SolverSpec(_equal_flops, "baseline", "stages of equal FLOPs, one per node of the path"),
        }
        self.default = "exact"

    def cost(self, cm, d):
        return dsgd_cost(cm, d["stages"], d["path"], d["microbatches"], d["source"], d.get("replicas"))

    def rows(self, cm, d):
        """A row per node holding a stage: a stage's replicas are rows with the same `stage`."""
        reps = d.get("replicas") or [[n] for n, _, _ in d["stages"]]
        rows = [{"node": n, "role": str(cm.role[cm.idx[n]]), "stage": k, "units": [int(a), int(b)]}
                for k, ((_, a, b), grp) in enumerate(zip(d["stages"], reps)) for n in grp]
        return rows, {"path": list(d["path"]), "microbatches": int(d["microbatches"]), "source": d["source"]}

    decision_keys = DECISIONS["dsgd"]

    def decode(self, cm, plan):
        self.device_rows(cm, plan, ())                  # every node defined, no other paradigm's decisions
        rows = [r for r in plan.assignments if "stage" in r]
        for r in rows:
            integer(r, "stage", 0, 10 ** 6)
            u = r.get("units")
            if not (isinstance(u, list) and len(u) == 2 and all(isinstance(x, int) and not isinstance(x, bool)
                                                                for x in u)):
                raise PlanError(f"stage on '{r['node']}' needs 'units': [first, last] (integers)")
        if not rows:
            raise PlanError("a dsgd plan has stages: assignments with 'stage' and 'units'")
        rows.sort(key=lambda r: r["stage"])
        det = plan.paradigm_detail
        path = det.get("path") or path_of(cm)
        if not isinstance(path, list) or not all(isinstance(n, str) for n in path):
            raise PlanError("paradigm_detail.path must be a list of node names")
        for n in path:
            if n not in cm.idx:
                raise PlanError(f"plan's path names node {n[:40]!r}, which the scenario does not define")
        m = det.get("microbatches", cm.scn.spec.paradigms.dsgd.microbatches)
        if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= 10 ** 6:
            raise PlanError(f"paradigm_detail.microbatches must be an integer from 1, got {str(m)[:40]!r}")
        source = det.get("source") or path[0]
        if not isinstance(source, str) or source not in cm.idx or cm.role[cm.idx[source]] != "device":
            raise PlanError(f"paradigm_detail.source {str(source)[:40]!r} is not a device of the scenario")
        stages, reps = [], []
        for i, r in enumerate(rows):                  # rows of one stage: its replicas, in path order
            if i and r["stage"] == rows[i - 1]["stage"]:
                if list(r["units"]) != [stages[-1][1], stages[-1][2]]:
                    raise PlanError(f"replicas of stage {r['stage']} must hold the same units "
                                    f"({r['node']} holds {r['units']}, {reps[-1][0]} {list(stages[-1][1:])})")
                reps[-1].append(r["node"])
            else:
                stages.append((r["node"], r["units"][0], r["units"][1]))
                reps.append([r["node"]])
        order = {n: i for i, n in enumerate(path)}
        for grp in reps:
            grp.sort(key=lambda n: order.get(n, -1))
        stages = [(grp[0], a, b) for grp, (_, a, b) in zip(reps, stages)]
        return {"stages": stages, "replicas": reps, "path": path, "microbatches": m, "source": source}


def _equal_flops(cm: CostModel) -> Solution:
    path = path_of(cm)
    F = cm.table.F if cm.table.F[-1] > 0 else cm.S[cm.idx[path[0]]]
    K = min(len(path), cm.L)
    bounds = [0]
    for k in range(1, K):
        target = F[-1] * k / K
        c = int(np.argmin(np.abs(F - target)))
        c = min(max(c, bounds[-1] + 1), cm.L - (K - k))
        bounds.append(c)
    bounds.append(cm.L)
    stages = [(path[k], bounds[k] + 1, bounds[k + 1]) for k in range(K)]
    return Solution({"stages": stages, "replicas": [[n] for n, _, _ in stages], "path": path,
                     "microbatches": cm.scn.spec.paradigms.dsgd.microbatches, "source": source_of(cm)}, "baseline")
