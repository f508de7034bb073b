"""Accuracy prediction: learning curves calibrated on the first 20% of a run's rounds, against the
rest of the run.

    python benchmarks/bench_accuracy.py [--quick] [--runs DIR] [--pilot FRACTION ...] [--pel-download model]
                                        [--seeds N]

`--runs DIR` keeps each setting's training runs (accuracy per round, per seed) in DIR and reuses
them on the next call, so the curve fitting can be studied without training again. `--pilot`
calibrates on another share of the rounds (default 0.2, the issue's); several shares add a table of
how the errors shrink as the pilot grows (one training run serves them all). `--seeds N` trains and
calibrates on N seeds instead of the issue's three: the measured means then carry less of the seeds'
noise, which tells a prediction's error from the measurement's; from six seeds the three-seed bench
is repeated on disjoint triples of them, each beside its noise floor (the other seeds' measured mean
curve taken as the triple's prediction).

On digits (fpl_cnn, scenarios/digits-small.yaml) and mnist1d (cnn1d, scenarios/mnist1d-small),
IID and non-IID (Dirichlet 0.3), every paradigm's best plan (fpl: every junction) trained for the
scenario's rounds with three seeds, and the centralised reference run (the whole model on the
pooled data, twice the scenario's rounds, as `edgeplan calibrate` trains it) whose accuracy bounds
the plateaus and whose curve fl and psl (and sl on IID data) follow at their own pace, and the
reference runs, as long, on the data that dsgd, pel with one worker and fpl's branch groups learn
from apart, whose curves those configurations follow. The curves are fitted (planner.convergence.fit_joint, as
`edgeplan calibrate --seeds 3` does) on the first fifth of the rounds of the three seeds; they then
predict the final accuracy, the rounds and seconds to a target most paradigms reach, and the
ranking of the paradigms by time to that target. Targets (issue "Predict accuracy and
time-to-accuracy"): final accuracy median error <= 2 points, worst <= 5; rounds to target within
20%; Kendall tau of the ranking >= 0.8.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import yaml
from common import SCENARIOS, quick, show
from edgeplan.calibration import (
    CENTRALISED,
    data_reference,
    fit_curves,
    pilots,
    planning_scenario,
    private_shares,
)
from edgeplan.costs import CostModel
from edgeplan.scenario import from_data
from edgeplan.validation.calibrate import reference_pilot, reference_run
from edgeplan.validation.runner import run_inprocess

SETTINGS = [("digits", "digits-small.yaml"), ("mnist1d", "mnist1d-small.yaml")]
SPLITS = [("IID", {"iid": True}), ("Dirichlet 0.3", {"iid": False, "dirichlet_alpha": 0.3})]
CLASSES: dict[str, int] = {}        # setting -> its model's classes (curves predict no accuracy below chance)
TAU: dict[str, int] = {}            # setting -> local iterations (pel with several is SGD only at one)
PRIVATE: dict[str, dict] = {}       # setting -> fpl configurations' private shares (calibration.private_shares)


def pel_download() -> str:
    """`--pel-download model`: pel's workers download the whole model (paradigms.pel.download)."""
    import sys
    return sys.argv[sys.argv.index("--pel-download") + 1] if "--pel-download" in sys.argv else "block"


def scenario(file: str, split: dict, rounds: int | None):
    data = yaml.safe_load((SCENARIOS / file).read_text())
    data["training"].update(split)
    if pel_download() != "block":
        data.setdefault("paradigms", {}).setdefault("pel", {})["download"] = pel_download()
    if rounds:
        data["training"]["rounds"] = rounds
    return from_data(data, str(SCENARIOS / file))


def runs_dir():
    import sys
    if "--runs" not in sys.argv:
        return None
    from pathlib import Path
    d = Path(sys.argv[sys.argv.index("--runs") + 1])
    d.mkdir(parents=True, exist_ok=True)
    return d


def seeds() -> int:
    """`--seeds N` (default 3, the issue's; 1 with --quick)."""
    import sys
    if "--seeds" in sys.argv:
        return int(sys.argv[sys.argv.index("--seeds") + 1])
    return 1 if quick() else 3


def pilot_shares() -> list[float]:
    import sys
    if "--pilot" not in sys.argv:
        return [0.2]
    i, out = sys.argv.index("--pilot") + 1, []
    while i < len(sys.argv) and not sys.argv[i].startswith("--"):
        out.append(float(sys.argv[i]))
        i += 1
    return out or [0.2]


def train_setting(name: str, file: str, split_name: str, split: dict, seeds: int, rounds: int | None):
    """Every pilot configuration trained for the whole run, per seed (or read back from --runs)."""
    scn = scenario(file, split, rounds)
    R = scn.spec.training.rounds
    runs = []
    todo = pilots(scn, ["fl", "sl", "psl", "dsgd", "fpl", "pel"])
    keep = runs_dir()
    tag = "" if pel_download() == "block" else f"-pel{pel_download()}"
    kept = keep / f"{name}-{split_name.replace(' ', '')}-R{R}-s{seeds}{tag}.csv" if keep else None
    if kept is not None and kept.exists():
        runs.append(pd.read_csv(kept))
        todo_runs = []
    else:
        todo_runs = todo
    for p in todo_runs:
        for seed in range(seeds):
            t0 = time.perf_counter()
            res = run_inprocess(scn, p.plan, rounds=R, seed=seed)
            r = res.rounds
            runs.append(pd.DataFrame({"paradigm": p.paradigm, "configuration": p.configuration, "seed": seed,
                                      "round": r["round"], "accuracy": r.test_accuracy, "loss": r.test_loss,
                                      "samples": r["round"] * p.plan.predicted["samples_per_round"],
                                      "coverage": res.extra["test_coverage"],
                                      "latency": r.round_latency_s}))
            print(f"  {name} {split_name} {p.configuration} seed {seed}: {100 * r.test_accuracy.iloc[-1]:.1f}% "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    pts = pd.concat(runs, ignore_index=True)
    CLASSES[f"{name} {split_name}"] = scn.spec.model.num_classes
    TAU[f"{name} {split_name}"] = scn.spec.training.local_iterations
    PRIVATE[f"{name} {split_name}"] = private_shares(CostModel(planning_scenario(scn)),
                                                     [p.configuration for p in todo])
    if kept is not None and not kept.exists():
        pts.to_csv(kept, index=False)
    return (f"{name} {split_name}", todo, pd.concat([pts, reference(scn, todo, seeds, kept)], ignore_index=True), R,
            scn.spec.training.iid)


def reference(scn, todo: list, seeds: int, kept) -> pd.DataFrame:
    """The centralised reference runs per seed, twice the scenario's rounds (calibrate's default):
    on the devices' pooled data, and on the data that dsgd, pel with one worker and fpl's branch
    groups learn from apart (calibration.own_data; their curves follow those)."""
    pooled = _reference_runs(scn, [(CENTRALISED, reference_pilot(todo))], seeds, kept, "-centralised.csv")
    own = _reference_runs(scn, [(data_reference(p.configuration), p) for p in todo if p.own_data],
                          seeds, kept, "-own.csv")
    return pd.concat([pooled, own], ignore_index=True)


def _reference_runs(scn, which: list, seeds: int, kept, suffix: str) -> pd.DataFrame:
    import tempfile
    from pathlib import Path
    file = kept.with_name(kept.stem + suffix) if kept is not None else None
    if file is not None and file.exists():
        return pd.read_csv(file)
    runs = []
    with tempfile.TemporaryDirectory() as work:         # a group's run serves every fpl junction with it
        for name, pilot in which:
            for seed in range(seeds):
                t0 = time.perf_counter()
                r = reference_run(planning_scenario(scn), pilot, seed, 2 * scn.spec.training.rounds,
                                  work=Path(work), name=name)
                runs.append(r)
                print(f"  {scn.name} {name} seed {seed}: {100 * r.accuracy.iloc[-1]:.1f}% "
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)
    df = pd.concat(runs, ignore_index=True)
    if file is not None:
        df.to_csv(file, index=False)
    return df


def pilot_rounds(R: int, share: float) -> int:
    """The pilot's rounds: `share` of the run's R, at least the four a fit needs."""
    return max(4, round(R * share))


def best_configurations(todo: list) -> dict[str, str]:
    """Each paradigm's configuration that the ranking counts: the planner's own pick."""
    best = {p.paradigm: p.configuration for p in todo if p.paradigm != "fpl"}
    best["fpl"] = next(p.configuration for p in todo if p.paradigm == "fpl")      # the planner's default pick
    return best


def first_round(curve: pd.Series, target: float) -> int | None:
    """The first round (the index) where a measured mean curve reaches the target; None if it never does."""
    return next((int(r) for r in curve.index if curve[r] >= target), None)


def score_setting(setting: str, todo: list, pts: pd.DataFrame, R: int, iid: bool, share: float = 0.2,
                  ceiling: bool = True) -> pd.DataFrame:
    """Curves fitted on the first `share` of the rounds (and, with `ceiling`, bounded by the
    centralised reference run), against the whole run."""
    K = pilot_rounds(R, share)
    ref = pts.paradigm == CENTRALISED            # the reference run is not cut to the pilot
    curves = {c.configuration: c for c in fit_curves(pts[((pts["round"] <= K) & ~ref) | (ref & ceiling)], iid=iid,
                                                           classes=CLASSES.get(setting),
                                                           local_iterations=TAU.get(setting),
                                                           private=PRIVATE.get(setting))}
    pts = pts[~ref]
    mean = pts.groupby(["configuration", "round"]).accuracy.mean().unstack()      # configuration x round
    final = mean[R]
    best_conf = best_configurations(todo)
    # a target most paradigms reach: the largest multiple of 5% that two thirds of them reach
    reached = {c: mean.loc[c].max() for c in best_conf.values()}
    target = next((t / 100 for t in range(95, 0, -5) if np.mean([v >= t / 100 for v in reached.values()]) >= 2 / 3),
                  0.5)
    rows = []
    for p in todo:
        c, cv = p.configuration, curves[p.configuration]
        pred = cv.predict(R)
        meas_r = first_round(mean.loc[c], target)
        pred_r = cv.rounds_to(target)["rounds"]
        lat_p = p.plan.predicted["round_latency_s"]
        lat_m = float(pts[pts.configuration == c].latency.median())
        value = math.nan if pred["value"] is None else pred["value"]      # None: unpredictable, its envelope only
        rows.append({"setting": setting, "configuration": c, "predicted_final": value,
                     "unpredictable": bool(cv.unpredictable),
                     "band_low": pred["low"], "band_high": pred["high"], "measured_final": float(final[c]),
                     "measured_sd": float(pts[(pts.configuration == c) & (pts["round"] == R)].accuracy.std()),
                     # the standard error of the seeds' mean, in points: how far the measurement itself
                     # typically lies from what the configuration reaches on average
                     "measured_se_points": 100 * float(pts[(pts.configuration == c) & (pts["round"] == R)]
                                                       .accuracy.sem()),
                     "error_points": 100 * abs(value - final[c]),
                     "in_band": pred["low"] <= final[c] <= pred["high"], "target": target,
                     "predicted_rounds": pred_r, "measured_rounds": meas_r,
                     "rounds_error": (abs(pred_r - meas_r) / meas_r) if pred_r and meas_r else math.nan,
                     "predicted_time_s": pred_r * lat_p if pred_r else math.inf,
                     "measured_time_s": meas_r * lat_m if meas_r else math.inf,
                     "best_of_paradigm": c in best_conf.values(), "pilot_rounds": K, "rounds": R})
    df = pd.DataFrame(rows)
    # seconds to target: the predicted rounds at the plan's round latency against the measured
    # rounds at the run's (both finite: a target one side never reaches has no relative error)
    both = np.isfinite(df.predicted_time_s) & np.isfinite(df.measured_time_s)
    df["time_error"] = ((df.predicted_time_s - df.measured_time_s).abs() / df.measured_time_s).where(both)
    return df


def kendall(df: pd.DataFrame) -> float:
    """Kendall tau of the paradigms ranked by time to target, predicted against measured; NaN
    where it is undefined (every prediction, or every measurement, a tie: e.g. no paradigm
    predicted to reach the target), never counted as agreement."""
    from scipy.stats import kendalltau
    d = df[df.best_of_paradigm & ~df.unpredictable]       # as compare: an unpredictable curve is not ranked
    a = d.predicted_time_s.replace(math.inf, 1e300).to_numpy()
    b = d.measured_time_s.replace(math.inf, 1e300).to_numpy()
    return float(kendalltau(a, b).statistic)


def pick_regret(df: pd.DataFrame) -> float:
    """What choosing by the curves costs: the measured time to target of the paradigm predicted
    fastest (among those it can rank) over the measured fastest of all (1 = the right pick; inf = the
    pick never got there); NaN where no paradigm was predicted or measured to reach the target."""
    d = df[df.best_of_paradigm]
    ranked = d[~d.unpredictable]
    if not np.isfinite(ranked.predicted_time_s).any() or not np.isfinite(d.measured_time_s).any():
        return math.nan
    return float(ranked.loc[ranked.predicted_time_s.idxmin(), "measured_time_s"] / d.measured_time_s.min())


def main():
    rounds = {"digits": 10, "mnist1d": 10} if quick() else {}
    trained = [train_setting(name, file, split_name, split, seeds(), rounds.get(name))
               for name, file in SETTINGS for split_name, split in SPLITS]
    shares = pilot_shares()
    df = pd.concat([score_setting(*t, share=shares[0]) for t in trained], ignore_index=True)
    show(f"final accuracy and rounds to target: predicted from the first {shares[0]:.0%} of the rounds against "
         "the run",
         df[["setting", "configuration", "predicted_final", "measured_final", "error_points", "in_band", "target",
             "predicted_rounds", "measured_rounds", "rounds_error"]])
    fpl = df[df.configuration.str.startswith("fpl")]
    show("fpl: accuracy at the last round by junction, predicted and measured",
         fpl[["setting", "configuration", "predicted_final", "band_low", "band_high", "measured_final",
              "measured_sd"]])
    show("summary (targets: median <= 2 points, worst <= 5; rounds within 20%; Kendall tau >= 0.8; noise: the "
         "standard error of the seeds' mean final accuracy in points, the measurement's own uncertainty; over_5: "
         "configurations more than 5 points off, beyond_noise: those of them off by more than twice their noise; "
         "pick_regret: the measured time to target of the paradigm the curves pick over the fastest's)",
         summarise(df))
    show("unpredictable curves (pel with several workers, pilots still at chance; planner.calibration.unforeseeable): "
         "no value, the envelope from chance to the centralised level; not in the errors above, in band_coverage",
         df[df.unpredictable][["setting", "configuration", "band_low", "band_high", "measured_final", "in_band"]])
    without = pd.concat([score_setting(*t, share=shares[0], ceiling=False) for t in trained], ignore_index=True)
    show("all settings, with the centralised reference run (the plateaus' bound; the shape of fl's, psl's and, on IID "
         "data, sl's curves) and without",
         pd.DataFrame([{"reference": "centralised run", **summarise(df).iloc[-1].drop("setting").to_dict()},
                       {"reference": "none", **summarise(without).iloc[-1].drop("setting").to_dict()}]))
    each, total = alone(trained, shares[0])
    show(f"each paradigm calibrated alone (`calibrate -p P`), {shares[0]:.0%} pilots: final accuracy error in points, "
         "with the reference run and without", each)
    show("each paradigm calibrated alone, all settings", total)
    if seeds() >= 6:
        show("the issue's three-seed bench on disjoint triples of these seeds: how much a three-seed figure owes to "
             "its seeds (each triple calibrated on its own pilots and reference runs, scored against its own runs); "
             "others_*: the other seeds' measured mean curve taken as the prediction instead (no pilot, the whole "
             "runs of the rest): the noise floor of the triple's figures",
             triples(trained, shares[0]))
    if len(shares) > 1:
        rows = []
        for share in shares:
            d = df if share == shares[0] else pd.concat([score_setting(*t, share=share) for t in trained],
                                                        ignore_index=True)
            worst = d.loc[d.error_points.idxmax()]
            rows.append({"pilot": f"{share:.0%}", **summarise(d).iloc[-1].drop("setting").to_dict(),
                         "worst_configuration": f"{worst.setting} {worst.configuration}"})
        show("all settings by the pilot's share of the rounds", pd.DataFrame(rows))


def triples(trained: list, share: float) -> pd.DataFrame:
    """The summary over all settings for seeds 0-2, 3-5, ... apart, and for all seeds together."""
    n = seeds()
    groups = [list(range(i, i + 3)) for i in range(0, n - 2, 3)] + [list(range(n))]
    rows = []
    for group in groups:
        scored = [(score_setting(setting, todo, pts[pts.seed.isin(group)], R, iid, share=share), pts, R)
                  for setting, todo, pts, R, iid in trained]
        df = pd.concat([d for d, _, _ in scored], ignore_index=True)
        worst = df.loc[df.error_points.idxmax()]
        row = {"seeds": f"{group[0]}-{group[-1]}", **summarise(df).iloc[-1].drop("setting").to_dict(),
               "worst_configuration": f"{worst.setting} {worst.configuration}"}
        if len(group) < n:
            floor = pd.concat([other_seeds(d, pts[~pts.seed.isin(group)], R) for d, pts, R in scored])
            row.update({"others_median_error": floor.error_points.median(),
                        "others_worst_error": floor.error_points.max(),
                        "others_over_5": int((floor.error_points > 5).sum()),
                        "others_worst_rounds_error": floor.rounds_error.max(),
                        "others_over_20pct": int((floor.rounds_error > 0.2).sum())})
        rows.append(row)
    return pd.DataFrame(rows)


def other_seeds(scored: pd.DataFrame, others: pd.DataFrame, R: int) -> pd.DataFrame:
    """The noise floor of a three-seed figure: the mean of the other seeds' full runs taken as the
    prediction of these three's (their final accuracy; the first round their mean reaches the
    same target), for the configurations the curves predict. A predictor that knew how every
    configuration trains on average would miss by about this much, for the three seeds' own luck."""
    mean = others[others.paradigm != CENTRALISED].groupby(["configuration", "round"]).accuracy.mean().unstack()
    rows = []
    for _, r in scored[~scored.unpredictable].iterrows():
        curve = mean.loc[r.configuration]
        got = first_round(curve, r.target)
        meas = r.measured_rounds
        rows.append({"error_points": 100 * abs(float(curve[R]) - r.measured_final),
                     "rounds_error": abs(got - meas) / meas if got and meas and not math.isnan(meas) else math.nan})
    return pd.DataFrame(rows)


def alone(trained: list, share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each paradigm's configuration fitted on its own pilot (beside the reference run, or not),
    as `edgeplan calibrate -p P` fits it: the final accuracy's error in points; and a summary."""
    rows = []
    for setting, todo, pts, R, iid in trained:
        K = pilot_rounds(R, share)
        ref = pts.paradigm == CENTRALISED
        final = pts[~ref & (pts["round"] == R)].groupby("configuration").accuracy.mean()
        for par, conf in best_configurations(todo).items():
            mine = (pts.configuration == conf) & (pts["round"] <= K)
            row = {"setting": setting, "configuration": conf}
            for label, with_ref in (("with_reference", True), ("without", False)):
                (cv,) = fit_curves(pts[mine | (ref & with_ref)], iid=iid, classes=CLASSES.get(setting),
                                   local_iterations=TAU.get(setting), private=PRIVATE.get(setting))
                value = cv.predict(R)["value"]
                row[label] = math.nan if value is None else 100 * abs(value - final[conf])
            rows.append(row)
    df = pd.DataFrame(rows)
    return df, pd.DataFrame([{"reference": w, "median_error_points": df[w].median(), "worst_error_points": df[w].max()}
                             for w in ("with_reference", "without")])


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Per setting and over all: the errors of final accuracy and of rounds and seconds to target, the band's
    coverage and the Kendall tau of the ranking by time to target (averaged over settings). Errors are of the curves
    that predict a value; `unpredictable` counts the others, whose envelopes `band_coverage` includes. `over_5` counts the
    configurations more than 5 points off, `beyond_noise` those of them off by more than twice the standard error
    of their seeds' mean (what the measurement itself cannot tell apart)."""
    def scores(g: pd.DataFrame) -> dict:
        over = g.error_points > 5
        return {"median_error_points": g.error_points.median(), "worst_error_points": g.error_points.max(),
                "unpredictable": int(g.unpredictable.sum()),
                "over_5": int(over.sum()), "beyond_noise": int((over & (g.error_points > 2 * g.measured_se_points)).sum()),
                "noise_median": g.measured_se_points.median(), "noise_worst": g.measured_se_points.max(),
                "band_coverage": g.in_band.mean(), "median_rounds_error": g.rounds_error.median(),
                "worst_rounds_error": g.rounds_error.max(), "median_time_error": g.time_error.median(),
                "worst_time_error": g.time_error.max()}
    summary = [{"setting": setting, **scores(g), "kendall_tau": kendall(g), "pick_regret": pick_regret(g)}
               for setting, g in df.groupby("setting", sort=False)]
    summary.append({"setting": "all", **scores(df),
                    "kendall_tau": float(np.nanmean([s["kendall_tau"] for s in summary])),   # over defined ones
                    "pick_regret": float(np.nanmax([s["pick_regret"] for s in summary]))})      # the worst
    return pd.DataFrame(summary)


if __name__ == "__main__":
    main()
