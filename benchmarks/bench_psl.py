"""psl: speed of the exact algorithm against the pyomo/HiGHS MILP (same instances, same optimum),
and the optimum's speed-up over EdgeSplit's baselines on the shipped scenarios.

    python benchmarks/bench_psl.py [--quick]

Targets (issue 5): exact at N=1000, L=50 under 1 s; exact at least 100x faster than the MILP;
on psl-hetero, 5.5x (EdgeSplit's figure) against the weakest baseline.
"""

from __future__ import annotations

import pandas as pd
from common import SCENARIOS, quick, show, timed
from edgeplan import paradigms
from edgeplan.comparison import speedups
from edgeplan.costs import CostModel
from edgeplan.scenario import load_scenario
from edgeplan.synthetic import psl_instance

PSL = paradigms.get("psl")


def speed():
    rows = []
    sizes = [(10, 20), (10, 50), (100, 20), (100, 50), (1000, 20), (1000, 50)]
    for N, L in sizes:
        cm = CostModel(psl_instance(N, L, seed=N + L))
        t_exact, p = timed(lambda cm=cm: PSL.solve(cm, "exact"), repeats=5)
        row = {"N": N, "L": L, "exact_s": t_exact, "round_s": p.predicted["round_latency_s"]}
        if not (quick() and N >= 1000):
            t_milp, q = timed(lambda cm=cm: PSL.solve(cm, "milp"), repeats=1)
            row.update(milp_s=t_milp, milp_over_exact=t_milp / t_exact,
                       rel_diff=abs(q.predicted["round_latency_s"] - row["round_s"]) / row["round_s"])
        rows.append(row)
        print(f"  N={N} L={L}: exact {t_exact:.4f} s" + (f", MILP {row['milp_s']:.2f} s" if "milp_s" in row else ""),
              flush=True)
    show("psl exact vs MILP (seconds; same instance, same optimum)", pd.DataFrame(rows))


def gains():
    rows = []
    for name in ("psl-hetero", "measured-vgg19", "pel-shannon", "fpl-fog", "digits-small"):
        cm = CostModel(load_scenario(SCENARIOS / f"{name}.yaml"))
        recs = []
        for m in ("exact", "uniform", "common", "percut", "alternating"):
            p = PSL.solve(cm, m)
            recs.append({"paradigm": "psl", "method": m, "kind": PSL.solvers[m].kind,
                         "round_latency_s": p.predicted["round_latency_s"], "feasible": p.feasible})
        sp = speedups(pd.DataFrame(recs))
        row = {"scenario": name, "optimum_round_s": sp.optimum_round_s.iloc[0]}
        for _, r in sp.iterrows():
            row[f"vs_{r.baseline}"] = r.speedup
        row["vs_weakest"] = sp.speedup.max()
        rows.append(row)
    show("psl optimum: speed-up over each baseline (baseline round / optimal round)", pd.DataFrame(rows))


if __name__ == "__main__":
    gains()
    speed()
