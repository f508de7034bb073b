"""pel (PABA): speed of the joint optimum against the cvxpy (Clarabel) formulation of the same
problem, and its latency reduction over the other schemes on the PABA-like scenario.

    python benchmarks/bench_pel.py [--quick]

Targets (issue 6): joint under 1 s at K=1000; on pel-shannon, at least PABA's 46% reduction
against equal allocation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from common import SCENARIOS, quick, show, timed

from planner import paradigms
from planner.costs import CostModel
from planner.scenario import load_scenario
from planner.synthetic import pel_instance

PEL = paradigms.get("pel")


def speed():
    rows = []
    for K in (10, 100, 1000):
        for shannon in (True, False):
            cm = CostModel(pel_instance(K, seed=K, shannon=shannon))
            PEL.solve(cm, "joint")   # warm the route caches, as a sweep would
            t_j, p = timed(lambda cm=cm: PEL.solve(cm, "joint"), repeats=3)
            row = {"K": K, "rates": "Shannon" if shannon else "spectral", "joint_s": t_j,
                   "round_s": p.predicted["round_latency_s"]}
            if not (quick() and K >= 1000):
                t_c, q = timed(lambda cm=cm: PEL.solve(cm, "cvxpy"), repeats=1)
                row.update(cvxpy_s=t_c, cvxpy_over_joint=t_c / t_j,
                           cvxpy_round_s=q.predicted["round_latency_s"],
                           rel_diff=(q.predicted["round_latency_s"] - row["round_s"]) / row["round_s"])
            rows.append(row)
            print(f"  K={K} {row['rates']}: joint {t_j:.3f} s" +
                  (f", cvxpy {row['cvxpy_s']:.2f} s" if "cvxpy_s" in row else ""), flush=True)
    show("pel joint (own water-filling) vs cvxpy/Clarabel, same instance (seconds)", pd.DataFrame(rows))


def reduction():
    rows = []
    for name in ("pel-shannon", "psl-hetero", "measured-vgg19", "fpl-fog"):
        cm = CostModel(load_scenario(SCENARIOS / f"{name}.yaml"))
        lat = {m: PEL.solve(cm, m).predicted["round_latency_s"] for m in ("joint", "equal", "bandwidth_aware",
                                                                            "parameter_aware")}
        row = {"scenario": name, "joint_round_s": lat["joint"]}
        for m in ("equal", "bandwidth_aware", "parameter_aware"):
            row[f"reduction_vs_{m}_%"] = 100 * (1 - lat["joint"] / lat[m])
        rows.append(row)
    show("pel joint: latency reduction against each scheme (%; PABA reports 46% against equal)",
         pd.DataFrame(rows), "{:.3g}")
    # random instances, as in shared/notes/solver-measurements.md
    recs = []
    for K in (10, 100, 1000):
        red = []
        for seed in range(5 if K < 1000 else 2):
            cm = CostModel(pel_instance(K, seed=100 + seed))
            j = PEL.solve(cm, "joint").predicted["round_latency_s"]
            e = PEL.solve(cm, "equal").predicted["round_latency_s"]
            red.append(100 * (1 - j / e))
        recs.append({"K": K, "instances": len(red), "min_%": np.min(red), "median_%": np.median(red),
                     "max_%": np.max(red)})
    show("pel joint vs equal on random Shannon instances (reduction %)", pd.DataFrame(recs), "{:.3g}")


if __name__ == "__main__":
    reduction()
    speed()
