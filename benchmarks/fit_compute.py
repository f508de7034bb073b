"""Refit the compute model's defaults (planner/compute.py) on split parts as validation runs them.

    python benchmarks/fit_compute.py [--quick] [--search]

For the digits CNN and VGG-11 (as bench_validation trains them) and every sl cut 1-4, trains the
split model in-process and reads the devices' part: measured against predicted. The ratio does
not depend on the node's rate (validation converts this host's time through its rate calibrated on
the whole step, in the same FLOP-equivalents), so the measured *share of the step* the part takes
is the model's share times measured / predicted. The table compares that share with the share the
model gives under the current defaults; `--search` tries a grid of the five defaults on the same
measurements (no training again) and prints the best by the largest |ln(model / measured)|.

This is how the defaults were chosen (see planner/compute.py): per-unit sweeps (`measure_units`)
time a unit apart from the rest of its part, which on this host charged VGG-11's first unit's
backward 2-3x what it costs inside the device's part.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from bench_validation import DIGITS, MODELS, digits_data
from common import quick, show
from edgeplan import compute as C
from edgeplan import paradigms
from edgeplan.costs import CostModel
from edgeplan.scenario import from_data
from edgeplan.validation.runner import run_inprocess

KNOBS = ("CALL_FLOPS", "POOL_FWD_FLOPS_PER_BYTE", "SHORT_K", "FLOPS_PER_BYTE", "STEP_CALLS")
GRID = ([3e6, 4.5e6, 6e6, 7.5e6, 9e6], [30, 50, 60, 90, 120], [15, 35, 60, 90], [8, 12, 18], [1.8, 4, 7, 10])


def part_share(cm: CostModel, cut: int) -> float:
    """The cost model's share of a training step taken by units 1..cut on a device given by its
    FLOP rate (forward, backward, update and the optimizer's fixed cost where the part has
    parameters: `CostModel.span`), at the compute module's current defaults."""
    v, b = cm.idx[cm.devices[0]], int(cm.scn.spec.training.batch_size)
    return float(cm.span(v, 0, cut, b) / cm.span(v, 0, cm.L, b))


def measure(cuts) -> pd.DataFrame:
    rows = []
    for label, model in MODELS[:1] if quick() else MODELS:
        for cut in cuts:
            data = digits_data(model)
            data.setdefault("paradigms", {})["sl"] = {"min_cut": cut, "max_cut": cut}
            scn = from_data(data, str(DIGITS))
            cm = CostModel(scn)
            res = run_inprocess(scn, paradigms.get("sl").solve(cm), rounds=2 if "vgg" in label else 5)
            ph = res.phases(scn)
            dev = ph[ph.phase == "device"]
            ratio = float(dev.measured_s.sum() / dev.predicted_s.sum())
            rows.append({"model": label, "cut": cut, "measured_share": part_share(cm, cut) * ratio, "scenario": scn})
            print(f"  {label} cut {cut}: measured / predicted {ratio:.2f}", flush=True)
    return pd.DataFrame(rows)


def errors(df: pd.DataFrame) -> np.ndarray:
    """ln(model share / measured share) per part, the cost model built afresh at the current
    defaults (it reads them when it builds its unit times)."""
    models = {label: CostModel(g.scenario.iloc[0]) for label, g in df.groupby("model", sort=False)}
    model = [part_share(models[r.model], r.cut) for r in df.itertuples()]
    return np.log(np.array(model) / df.measured_share.to_numpy())


def main():
    import sys
    df = measure(range(1, 5))
    e = errors(df)
    show("the devices' part of an sl step: its share of the step, measured in-process and modelled",
         pd.DataFrame({"model": df.model, "cut": df.cut, "measured_share": df.measured_share,
                       "model_share": df.measured_share * np.exp(e), "model / measured": np.exp(e)}))
    if "--search" not in sys.argv:
        return
    saved = {k: getattr(C, k) for k in KNOBS}
    found = []
    try:
        for values in itertools.product(*GRID):
            for k, v in zip(KNOBS, values):
                setattr(C, k, v)
            err = np.abs(errors(df))
            found.append({"worst_abs_ln": float(err.max()), "median_abs_ln": float(np.median(err)),
                          **dict(zip(KNOBS, values))})
    finally:
        for k, v in saved.items():
            setattr(C, k, v)
    show("defaults by the worst |ln(model / measured)| over the parts (best 10)",
         pd.DataFrame(found).sort_values("worst_abs_ln").head(10))


if __name__ == "__main__":
    main()
