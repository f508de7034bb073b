"""Every paradigm side by side: its best plan and its baselines, as a table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import paradigms
from .costs import CostModel
from .curves import to_target
from .errors import InfeasibleError, PlanError, unplanned_status
from .progress import Bar
from .scenario import Scenario
from .tables import unit_span
from .units import plural

COLUMNS = ["paradigm", "method", "kind", "status", "round_latency_s", "training_latency_s", "energy_j",
           "device_energy_j", "training_energy_j", "comm_bytes", "peak_device_memory_bytes", "critical_node",
           "critical_phase", "samples_per_round", "epoch_samples", "epoch_time_s", "epoch_energy_j", "accuracy", "accuracy_low",
           "accuracy_high", "rounds_to_target", "rounds_to_target_fastest", "rounds_to_target_slowest", "time_to_target_s", "energy_to_target_j", "objective", "feasible",
           "why", "solve_time_s", "note"]


def methods_for_compare(para, all_methods: bool = False, cm: CostModel | None = None) -> list[str]:
    """The default optimiser and every baseline and heuristic; with `all_methods`, every method
    (the cross-check solvers too) that applies to the scenario."""
    return [m for m, s in para.solvers.items()
            if (all_methods or m == para.default or s.kind in ("baseline", "heuristic"))
            and (cm is None or s.available(cm))]


def plan_row(cm: CostModel, para, method: str) -> tuple[dict, object]:
    kind = para.solvers[method].kind
    try:
        p = para.solve(cm, method)
    except (InfeasibleError, PlanError) as e:     # PlanError: it cannot be planned here (no curve for it, ...)
        return dict(paradigm=para.name, method=method, kind=kind, feasible=False, why=str(e), note="",
                    status=unplanned_status(e)), None
    pr = p.predicted
    acc = pr.get("accuracy") or {}
    mem = [a["memory_bytes"] for a in p.assignments if a.get("role") == "device"]
    return dict(paradigm=para.name, method=method, kind=kind, status=p.solver["status"],
                round_latency_s=pr["round_latency_s"], training_latency_s=pr["training_latency_s"],
                energy_j=pr["energy_j"], device_energy_j=pr["device_energy_j"],
                training_energy_j=pr["training_energy_j"], comm_bytes=pr["comm_bytes"],
                peak_device_memory_bytes=max(mem) if mem else 0.0, critical_node=pr["critical"]["node"],
                critical_phase=pr["critical"]["phase"], samples_per_round=pr.get("samples_per_round"),
                epoch_samples=pr.get("epoch_samples"), epoch_time_s=pr.get("epoch_time_s"), epoch_energy_j=pr.get("epoch_energy_j"),
                accuracy=acc.get("value"), accuracy_low=acc.get("low"), accuracy_high=acc.get("high"),
                rounds_to_target=pr.get("rounds_to_target"), time_to_target_s=pr.get("time_to_target_s"),
                **dict(zip(("rounds_to_target_fastest", "rounds_to_target_slowest"),
                           pr.get("rounds_to_target_range") or (None, None))),
                energy_to_target_j=pr.get("energy_to_target_j"),
                objective=p.objective["value"], feasible=p.feasible,
                why="; ".join(pr.get("violations", [])), solve_time_s=p.solver["time_s"], note=plan_note(p)), p


def plan_note(p) -> str:
    """What a plan decided that its table does not show, in a sentence (fpl's junction, dsgd's
    stages, a warning for pel with several workers); '' where nothing needs saying."""
    d = p.paradigm_detail
    if p.paradigm == "fpl":
        extra = d["junction_extra_params"]
        if d["groups"] == 1:       # nothing to join: every device in one branch group
            return (f"junction {d['junction']}: one branch group, so the devices hold "
                    f"{unit_span(1, d['junction'])} and the trunk on {d['trunk']} the rest")
        # the unit and its module's name: a Sequential's module is named by its index ("6"), not its unit
        return (f"junction {d['junction']}: branches hold {unit_span(1, d['junction'])}, the junction layer "
                f"(unit {d['junction'] + 1}, module {d['junction_unit']}) joins {plural(d['groups'], 'branch')}"
                f"{f' (+{extra:,} parameters)' if extra else ''}; trunk on {d['trunk']}")
    if p.paradigm == "dsgd":
        n, parts = stage_layout(p)
        return f"{plural(n, 'stage')} ({parts}); data from {d['source']}"
    if p.paradigm == "pel" and d.get("active_workers", 0) > 1:      # issue 14's design, measured in bench_accuracy
        if d.get("download") == "model":
            return (f"{d['active_workers']} workers each update a block of the current model against the others' "
                    "values at the round's start: it may learn less steadily than the others (its curve is "
                    "unpredictable unless each round is one local iteration)")
        if d.get("compute") == "backprop":    # blocks stay put: a replica never hears of the others' layers
            return (f"{d['active_workers']} workers each update a block of the model beside a replica that is stale "
                    "elsewhere (its initial weights; paradigms.pel.download: model sends the whole model): it may "
                    "learn far less than the others, and no pilot foresees how much (validate measures it)")
        return (f"{d['active_workers']} workers each update a block of the model beside a replica that is stale "
                "elsewhere: it may learn far less than the others, and no pilot foresees how much (validate "
                "measures it)")
    return ""


def stage_layout(p) -> tuple[int, str]:
    """A dsgd plan's stages in words: (count, "gpu-0+gpu-1 units 1-5, gpu-2 units 6-7")."""
    stages: dict[int, list] = {}
    for a in p.assignments:
        if "stage" in a:
            stages.setdefault(a["stage"], []).append(a)
    parts = ", ".join(f"{'+'.join(a['node'] for a in rows)} {unit_span(*rows[0]['units'][:2])}"
                      for _, rows in sorted(stages.items()))
    return len(stages), parts


def compare_table(scn: Scenario, names=None, progress: bool = False,
                  all_methods: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(every method's row, the best row per paradigm)."""
    names = list(names or paradigms.NAMES)
    for n in names:
        paradigms.get(n)  # unknown names fail before any work
    cm = CostModel(scn)
    jobs = [(n, m) for n in names for m in methods_for_compare(paradigms.get(n), all_methods, cm)]
    rows = []
    with Bar(progress, len(jobs), text="planning") as bar:
        for n, m in jobs:
            bar.update(text=f"{n}: {m}")
            row, _ = plan_row(cm, paradigms.get(n), m)
            rows.append(row)
            bar.advance()
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["note"] = df["note"].fillna("")
    best = []
    for n in names:
        sub = df[df.paradigm == n]
        ok = sub[sub.feasible.astype(bool) & sub.objective.notna()]
        best.append(pick_best(ok) if len(ok) else sub.iloc[0])
    best = pd.DataFrame(best).reset_index(drop=True)
    return df, rank_best(scn, best)


PROVEN = {"exact": 0, "milp": 0, "convex": 0, "heuristic": 1, "baseline": 2}


def pick_best(rows: pd.DataFrame) -> pd.Series:
    """The row of least objective; a tie within float noise (1e-9 relative) goes to the proven
    method (an exact, MILP or convex optimum) over a heuristic or a baseline."""
    obj = rows.objective.astype(float)
    tied = rows[obj <= obj.min() + 1e-9 * abs(obj.min())]
    return tied.loc[tied.kind.map(PROVEN).fillna(3).astype(int).idxmin()]


def rank_best(scn: Scenario, best: pd.DataFrame) -> pd.DataFrame:
    """The best plans in the order a person choosing would read them: by time to the target when
    the curves predict it, else by time for the same amount of training (an epoch of every
    device's data)."""
    key = "time_to_target_s" if to_target(scn) else "epoch_time_s"
    if scn.spec.objective in ("energy", "energy_to_target"):
        key = "energy_to_target_j" if to_target(scn) else "epoch_energy_j"
    order = best[key].astype(float).fillna(np.inf).rank(method="first")
    return best.assign(_o=order).sort_values("_o").drop(columns="_o").reset_index(drop=True)


def speedups(df: pd.DataFrame) -> pd.DataFrame:
    """Per paradigm: the optimum's round latency against each baseline's (ratio > 1: faster)."""
    rows = []
    for n, sub in df.groupby("paradigm", sort=False):
        opt = sub[sub.kind != "baseline"]
        opt = opt[opt.feasible.astype(bool)]
        if opt.empty:
            continue
        best = float(opt.round_latency_s.min())
        for _, r in sub[sub.kind.isin(["baseline", "heuristic"])].iterrows():
            v = float(r.round_latency_s) if r.round_latency_s == r.round_latency_s else np.nan
            rows.append({"paradigm": n, "baseline": r.method, "baseline_round_s": v, "optimum_round_s": best,
                         "speedup": v / best if best > 0 else np.nan})
    return pd.DataFrame(rows)
