"""fpl: solve time against topology size, and fpl's bytes and energy against fl's.

    python benchmarks/bench_fpl.py [--quick]

Targets (issue 7): on fpl-fog, fewer bytes per round than fl at equal or lower energy (as the
FPL paper reports).
"""

from __future__ import annotations

import time

import pandas as pd
from common import SCENARIOS, quick, show
from edgeplan import paradigms
from edgeplan.costs import CostModel
from edgeplan.scenario import load_scenario
from edgeplan.synthetic import fpl_instance

FPL, FL = paradigms.get("fpl"), paradigms.get("fl")


def scaling():
    rows = []
    sizes = [(10, 2), (50, 5), (100, 10), (250, 10), (500, 20)]
    if quick():
        sizes = sizes[:3]
    for D, F in sizes:
        t0 = time.perf_counter()
        cm = CostModel(fpl_instance(D, F, seed=D))
        t1 = time.perf_counter()
        p = FPL.solve(cm, "milp")
        t2 = time.perf_counter()
        q = FPL.solve(cm, "exact")
        t3 = time.perf_counter()
        rows.append({"devices": D, "fog": F, "load_s": t1 - t0, "milp_s": t2 - t1, "exact_s": t3 - t2,
                     "round_s": p.predicted["round_latency_s"], "trunk": p.paradigm_detail["trunk"],
                     "junction": p.paradigm_detail["junction"],
                     "agree": abs(p.predicted["round_latency_s"] - q.predicted["round_latency_s"])
                     <= 1e-6 * q.predicted["round_latency_s"]})
        print(f"  {D} devices, {F} fog: MILP {t2 - t1:.2f} s", flush=True)
    show("fpl solve time against topology size (seconds; MILP enumerates junctions, places the trunk)",
         pd.DataFrame(rows))


def versus_fl():
    rows = []
    for name in ("fpl-fog", "psl-hetero", "digits-small"):
        cm = CostModel(load_scenario(SCENARIOS / f"{name}.yaml"))
        f, g = FPL.solve(cm), FL.solve(cm)
        pf, pg = f.predicted, g.predicted
        rows.append({"scenario": name, "fpl_bytes": pf["comm_bytes"], "fl_bytes": pg["comm_bytes"],
                     "bytes_ratio": pf["comm_bytes"] / pg["comm_bytes"], "fpl_energy_j": pf["energy_j"],
                     "fl_energy_j": pg["energy_j"], "energy_ratio": pf["energy_j"] / pg["energy_j"],
                     "fpl_round_s": pf["round_latency_s"], "fl_round_s": pg["round_latency_s"],
                     "junction_extra_params": f.paradigm_detail["junction_extra_params"]})
    show("fpl against fl per round (ratio < 1: fpl moves fewer bytes / spends less energy)", pd.DataFrame(rows))


if __name__ == "__main__":
    versus_fl()
    scaling()
