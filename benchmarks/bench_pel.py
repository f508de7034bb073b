"""pel (PABA): speed of the joint optimum against the cvxpy (Clarabel) formulation of the same
problem, and its latency reduction over the other schemes on the PABA-like scenario.

    python benchmarks/bench_pel.py [--quick]

Targets (issue 6): joint under 1 s at K=1000; on pel-shannon, at least PABA's 46% reduction
against equal allocation. Issue "pel: a cost model that is true for DNNs": the joint optimum
against the three schemes under both compute models (backprop, per_parameter), and the solve
time of the backprop optimum at K = 10, 100, 1000 beside the pyomo/HiGHS MILP.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from common import SCENARIOS, quick, show, timed
from edgeplan import paradigms
from edgeplan.costs import CostModel
from edgeplan.scenario import load_scenario
from edgeplan.synthetic import pel_instance

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


def _variant(name: str, compute: str):
    from edgeplan.variants import variant
    scn = load_scenario(SCENARIOS / f"{name}.yaml")
    return variant(scn, {"paradigms.pel.compute": compute})


def reduction():
    rows = []
    for name in ("pel-shannon", "digits-small", "psl-hetero", "measured-vgg19", "fpl-fog"):
        for compute in ("per_parameter", "backprop"):
            cm = CostModel(_variant(name, compute))
            plans = {m: PEL.solve(cm, m) for m in ("joint", "equal", "bandwidth_aware", "parameter_aware")}
            lat = {m: p.predicted["round_latency_s"] for m, p in plans.items()}
            row = {"scenario": name, "compute": compute, "joint_round_s": lat["joint"],
                   "active_workers": plans["joint"].paradigm_detail.get("active_workers")}
            for m in ("equal", "bandwidth_aware", "parameter_aware"):
                row[f"vs_{m}_%"] = 100 * (1 - lat["joint"] / lat[m])
            rows.append(row)
    show("pel joint: latency reduction against each scheme (%; PABA reports 46% against equal), both compute "
         "models", pd.DataFrame(rows), "{:.3g}")
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


def backprop_speed():
    """The backprop optimum (exact DP where the kinds of worker are few, else the heuristic with its
    gap) against the MILP on the same instances."""
    rows = []
    for K in (10, 100, 1000):
        for kinds in (4, None):           # a fleet of four kinds of device, or every worker distinct
            cm = CostModel(_fleet(K, kinds))
            t_j, p = timed(lambda cm=cm: PEL.solve(cm, "joint"), repeats=1 if K >= 1000 else 3)
            row = {"K": K, "kinds": kinds or K, "joint_s": t_j, "status": p.solver["status"],
                   "round_s": p.predicted["round_latency_s"], "gap": p.solver["gap"]}
            if K <= (10 if quick() else 100):
                t_m, q = timed(lambda cm=cm: PEL.solve(cm, "milp"), repeats=1)
                row.update(milp_s=t_m, milp_over_joint=t_m / t_j,
                           rel_diff=(p.predicted["round_latency_s"] - q.predicted["round_latency_s"]) /
                           q.predicted["round_latency_s"])
            rows.append(row)
            print(f"  backprop K={K} kinds={row['kinds']}: {t_j:.3f} s ({row['status']})", flush=True)
    show("pel backprop: joint (DP; heuristic with its gap beyond the DP's reach) vs the pyomo/HiGHS MILP (seconds)",
         pd.DataFrame(rows))


def _fleet(K: int, kinds: int | None):
    """K workers on one spectral channel: `kinds` kinds of device (identical within a kind), or
    every worker its own (random compute and link)."""
    from edgeplan.scenario import from_data
    from edgeplan.synthetic import _DIR, random_profile
    rng = np.random.default_rng(K)
    prof = random_profile(10, rng)
    nodes = [{"name": "bs", "role": "server", "compute": 1e13, "power": 300.0, "tx_power": 1.0}]
    links = []
    for k in range(K):
        c = k % kinds if kinds else k
        r = np.random.default_rng(1000 + c)
        nodes.append({"name": f"w{k}", "role": "device", "compute": float(10 ** r.uniform(9, 10.7)), "power": 3.0,
                      "tx_power": 0.2})
        links.append({"from": f"w{k}", "to": "bs", "channel": "cell", "spectral_efficiency": float(r.uniform(0.5, 6)),
                      "latency": 0.005})
    data = {"name": f"fleet-{K}", "model": {"profile": str(prof)}, "training": {"batch_size": 32},
            "nodes": nodes, "links": links, "channels": [{"name": "cell", "bandwidth": 2e7}]}
    return from_data(data, str(_DIR / "fleet.yaml"))


if __name__ == "__main__":
    reduction()
    backprop_speed()
    speed()
