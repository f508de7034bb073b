"""Sweep throughput: points per second of a psl sweep on this machine, 1 and 2 workers, measured
side by side in one run.

    python benchmarks/bench_sweep.py [--quick]

Target (issue 9): 10,000 points in under 60 s on 2 cores.
"""

from __future__ import annotations

import time

import pandas as pd
from common import SCENARIOS, quick, show
from edgeplan.scenario import load_scenario
from edgeplan.variants import parse_values
from edgeplan.whatif import sweep


def main():
    scn = load_scenario(SCENARIOS / "psl-hetero.yaml")
    n_b, n_c = (25, 20) if quick() else (100, 100)
    varies = [("channels.ap0.bandwidth", parse_values(f"log:5MHz:500MHz:{n_b}")),
              ("nodes.rpi3.compute", parse_values(f"0.5 GFLOPS:8 GFLOPS:{n_c}"))]
    sweep(scn, [("channels.ap0.bandwidth", [1e7, 2e7])], ["psl"], workers=1)   # warm-up: imports, caches
    rows = []
    for methods in ("optimal", "all"):
        for workers in (1, 2):
            t0 = time.perf_counter()
            res = sweep(scn, varies, ["psl"], methods=methods, workers=workers)
            dt = time.perf_counter() - t0
            pts = n_b * n_c
            rows.append({"methods": methods, "workers": workers, "points": pts, "plans": len(res.table),
                         "seconds": dt, "points_per_s": pts / dt, "s_per_10k_points": 1e4 * dt / pts})
            print(f"  {methods}, {workers} worker(s): {pts / dt:.0f} points/s", flush=True)
    df = pd.DataFrame(rows)
    for m in ("optimal", "all"):
        sub = df[df.methods == m]
        df.loc[sub.index, "speedup_vs_1"] = sub.points_per_s / sub.points_per_s.iloc[0]
    show("psl sweep on psl-hetero (bandwidth x Raspberry Pi 3 compute): throughput", df)


if __name__ == "__main__":
    main()
