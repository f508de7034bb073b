"""What-if analysis: sweeps over scenario variants, capacity search, latency-energy fronts.

- `sweep`: every point of a grid of variants (planner.variants), every paradigm, its optimum and
  its baselines, into one tidy table. Runs on a process pool (default) or a Ray cluster; both
  give the same table.
- `capacity`: the least (or most) value of a quantity that meets a target, by bisection where
  the target metric is monotone in it (checked on a grid first, and said when it is not).
- `pareto`: the latency-energy front of a paradigm by the epsilon-constraint method.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import paradigms
from .costs import CostModel
from .errors import InfeasibleError, PlanError, ScenarioError, internal_error, unplanned_status
from .progress import Bar
from .scenario import Scenario
from .units import fmt_si
from .variants import grid, integer_field, read, resolve, variant

RESULT_COLUMNS = ["paradigm", "method", "kind", "status", "round_latency_s", "energy_j", "device_energy_j",
                  "comm_bytes", "samples_per_round", "epoch_time_s", "epoch_energy_j", "accuracy", "rounds_to_target",
                  "time_to_target_s", "energy_to_target_j", "objective", "objective_per_sample", "feasible", "why"]


# ---------------------------------------------------------------- planning one point

def plan_point(scn: Scenario, values: dict, names: list[str], methods: str = "all") -> list[dict]:
    """Rows for one variant: each paradigm's optimum (and, with methods='all', its baselines)."""
    try:
        v = variant(scn, values)
        cm = CostModel(v)
    except ScenarioError as e:
        return [{**values, "paradigm": n, "method": "", "kind": "", "status": "invalid", "feasible": False,
                 "why": str(e)} for n in names]
    rows = []
    obj = cm.objective
    for n in names:
        para = paradigms.get(n)
        best = para.fastest or para.default
        ms = [best] + ([m for m, s in para.solvers.items() if s.kind in ("baseline", "heuristic")
                        and m != best and s.available(cm)] if methods == "all" else [])
        for m in ms:
            row = {**values, "paradigm": n, "method": m, "kind": para.solvers[m].kind}
            try:
                if cm.to_target and m == best:
                    sol, c = para.best_to_target(cm, m)
                else:
                    sol = para.solvers[m].fn(cm)
                    c = para.cost(cm, sol.decisions)
                row.update(status=sol.status, round_latency_s=c.round_latency, energy_j=c.energy,
                           device_energy_j=c.device_energy, comm_bytes=c.comm_bytes, samples_per_round=c.samples,
                           epoch_time_s=c.epoch_latency, epoch_energy_j=c.epoch_energy,
                           objective=c.objective(obj), objective_per_sample=c.objective(obj) / c.samples,
                           feasible=c.feasible, why="; ".join(c.violations))
                acc = _to_target(v, para, cm, sol.decisions, c)
                if acc.get("why") and row["why"]:           # the plan's violations and the accuracy's note
                    acc["why"] = f"{row['why']}; {acc['why']}"
                row.update(acc)
            except (InfeasibleError, PlanError) as e:
                row.update(status=unplanned_status(e), feasible=False, why=str(e))
            except ScenarioError as e:      # the point itself does not hold (curves made for another batch, ...)
                row.update(status="invalid", feasible=False, why=str(e))
            except Exception as e:          # a fault of ours at one point: recorded, the other points go on
                row.update(status="error", feasible=False, why=internal_error(e))
            rows.append(row)
    return rows


def _to_target(scn: Scenario, para, cm: CostModel, decisions: dict, c) -> dict:
    """A row's accuracy columns from the scenario's curves (none without curves; a point whose
    variant the curves do not fit, e.g. another batch size, says why instead)."""
    if scn.spec.training.convergence is None:
        return {}
    from .curves import predictions
    try:
        pr = predictions(scn, para.name, para.configuration(cm, decisions), c.round_latency, c.energy, c.samples)
    except ScenarioError as e:
        return {"why": f"no accuracy prediction: {e.message}"}
    row = {"accuracy": (pr.get("accuracy") or {}).get("value"), "rounds_to_target": pr.get("rounds_to_target"),
           "time_to_target_s": pr.get("time_to_target_s"), "energy_to_target_j": pr.get("energy_to_target_j")}
    if (pr.get("accuracy") or {}).get("unpredictable"):
        row["why"] = f"{UNPREDICTABLE}: {pr['accuracy']['why']}"
    return row


UNPREDICTABLE = "accuracy unpredictable"     # how a sweep row's `why` begins for a curve no pilot foresees


_WORKER_SCN: Scenario | None = None


def _init_worker(scn: Scenario) -> None:
    import os
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    global _WORKER_SCN
    _WORKER_SCN = scn


def _chunk(args) -> list[tuple[int, list[dict]]]:
    points, names, methods = args
    return [(i, plan_point(_WORKER_SCN, vals, names, methods)) for i, vals in points]


# ---------------------------------------------------------------- sweeps

# what the winners are ranked on, as shown: (label, short header, unit)
_RANKING_NAMES = {"time_to_target_s": ("time to the target accuracy (s)", "time to target", "s"),
                  "energy_to_target_j": ("energy to the target accuracy (J)", "energy to target", "J")}
_EPOCH_NAMES = {"latency": ("time per epoch (s)", "time/epoch", "s"), "energy": ("energy per epoch (J)", "J/epoch", "J")}
_WEIGHTED_NAMES = ("weighted objective per training sample", "objective/sample", "")


@dataclass
class SweepResult:
    table: pd.DataFrame            # tidy: one row per point x paradigm x method
    varied: list[str]
    seconds: float
    engine: str
    workers: int
    objective: str = "latency"
    points: int = 0                # of the grid
    points_done: int = 0           # in `table` (fewer than `points` when interrupted)
    points_taken: int = 0          # of them, from an earlier run's table (resumed)
    interrupted: bool = False

    def best(self) -> pd.DataFrame:
        """Each paradigm's best feasible method at each point."""
        from .comparison import pick_best
        t = self.table[self.table.feasible.astype(bool) & self.table.objective.notna()]
        if t.empty:
            return t
        picks = [pick_best(g) for _, g in t.groupby(self.varied + ["paradigm"], dropna=False, sort=False)]
        return pd.DataFrame(picks).reset_index(drop=True)

    @property
    def ranking(self) -> str:
        """The column winners are picked on: time (energy) to the target accuracy when the scenario
        has curves and a target, else the objective per training sample (paradigms process
        different numbers of samples per round: dsgd one device's batches, the others every
        device's), never a raw per-round figure."""
        t = self.table
        if "time_to_target_s" in t and t.time_to_target_s.notna().any():
            return "energy_to_target_j" if self.objective in ("energy", "energy_to_target") else "time_to_target_s"
        return "objective_per_sample"

    @property
    def _ranking_names(self) -> tuple[str, str, str]:
        """(label, short header, unit) of the ranking column as shown (see `shown`)."""
        return _RANKING_NAMES.get(self.ranking) or _EPOCH_NAMES.get(self.objective, _WEIGHTED_NAMES)

    @property
    def ranking_label(self) -> str:
        return self._ranking_names[0]

    @property
    def ranking_header(self) -> str:
        """The ranking column's short header for an 80-column table (its values carry their unit)."""
        return self._ranking_names[1]

    @property
    def ranking_unit(self) -> str:
        """The SI unit of the ranking column as shown (seconds or joules; '' for a weighted objective)."""
        return self._ranking_names[2]

    def shown(self, df: pd.DataFrame) -> pd.Series:
        """The ranking quantity of rows, per epoch where it is a per-sample objective."""
        if self.ranking != "objective_per_sample":
            return pd.to_numeric(df[self.ranking], errors="coerce")
        if self.objective in ("latency", "energy"):
            return pd.to_numeric(df["epoch_time_s" if self.objective == "latency" else "epoch_energy_j"],
                                 errors="coerce")
        return df.objective_per_sample

    def winners_shown(self) -> pd.DataFrame:
        """The winners with their ranking column as `ranking_label` says (per epoch, not per sample)."""
        w = self.winners()
        if not w.empty:
            w = w.assign(**{self.ranking: self.shown(w).to_numpy()})
        return w

    def unranked(self) -> list[str]:
        """Paradigms a to-target ranking cannot see: the scenario's curve table has no curve for
        them (no accuracy at any point), so they can never win, whatever they would reach."""
        if self.ranking == "objective_per_sample" or "accuracy" not in self.table:
            return []
        acc = pd.to_numeric(self.table.accuracy, errors="coerce").notna().groupby(self.table.paradigm, sort=False).any()
        unforeseen = self.unforeseen()
        return [p for p, has in acc.items() if not has and p not in unforeseen]

    def unforeseen(self) -> list[str]:
        """Paradigms whose every planned point has a curve that no pilot foresees (its accuracy
        only an envelope): a to-target ranking cannot see them either."""
        if self.ranking == "objective_per_sample" or "accuracy" not in self.table:
            return []
        t = self.table
        planned = t[pd.to_numeric(t.round_latency_s, errors="coerce").notna()]
        said = planned.why.fillna("").astype(str).str.contains(UNPREDICTABLE, regex=False) & \
            pd.to_numeric(planned.accuracy, errors="coerce").isna()
        by = said.groupby(planned.paradigm, sort=False).all()
        return [p for p, every in by.items() if every]

    def winners(self) -> pd.DataFrame:
        """The winning paradigm at each point (on `ranking`)."""
        b = self.best()
        if b.empty:
            return b
        key = self.ranking
        b = b.assign(_k=pd.to_numeric(b[key], errors="coerce").fillna(np.inf))
        idx = b.groupby(self.varied, dropna=False)._k.idxmin()
        cols = self.varied + ["paradigm", "method", "objective", key] + \
            [c for c in ("epoch_time_s", "epoch_energy_j") if c in b]
        return b.loc[idx, list(dict.fromkeys(cols))].reset_index(drop=True)


def sweep(scn: Scenario, varies: list[tuple[str, list]], names: list[str] | None = None, methods: str = "all",
          engine: str = "process", workers: int = 2, address: str | None = None, progress: bool = False,
          chunk: int | None = None, done: pd.DataFrame | None = None) -> SweepResult:
    """Plan every point of the grid of `varies` ([(path, values)]) for every paradigm in `names`.
    `done`: a table an earlier run of this sweep wrote; its points are taken, not planned again.
    Interrupted (Ctrl-C, SIGTERM), it raises SweepInterrupted (a KeyboardInterrupt) holding the
    points planned so far as `.result`."""
    from .sweep_pool import run_chunks
    names = list(names or paradigms.NAMES)
    for n in names:
        paradigms.get(n)
    for path, _ in varies:
        resolve(scn, path)
    from .graph import unit_table
    unit_table(scn)                      # profile the model once, before the workers copy the scenario
    pts = grid(scn, varies)
    points = [(i, {k: _py(v) for k, v in row.items()}) for i, row in enumerate(pts.to_dict("records"))]
    results: dict[int, list[dict]] = _taken(done, points, names, list(pts.columns)) if done is not None else {}
    if results:
        _same_planning(scn, points, results, names, methods)
    todo = [p for p in points if p[0] not in results]
    n = len(todo)
    size = chunk or max(1, min(200, n // (max(workers, 1) * 16) or 1))
    jobs = [(todo[k:k + size], names, methods) for k in range(0, n, size)]
    t0 = time.perf_counter()
    with Bar(progress, len(points), "points", text="sweep", width=5, done=len(results)) as bar:
        stopped = run_chunks(scn, jobs, _init_worker, _chunk, engine, workers, address, bar, results)
    rows = [r for i in sorted(results) for r in results[i]]
    table = pd.DataFrame(rows, columns=list(pts.columns) + RESULT_COLUMNS)
    obj = scn.spec.objective
    res = SweepResult(table, list(pts.columns), time.perf_counter() - t0, engine, workers,
                      obj if isinstance(obj, str) else "weighted", points=len(points),
                      points_done=len(results), points_taken=len(points) - n, interrupted=stopped)
    if stopped:
        raise SweepInterrupted(res)
    return res


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a sweep: still an interruption to a caller, with the points
    planned before it as `.result` (a SweepResult)."""

    def __init__(self, result: SweepResult):
        super().__init__(f"interrupted after {result.points_done} of {result.points} points")
        self.result = result


def _taken(done: pd.DataFrame, points: list, names: list[str], varied: list[str]) -> dict[int, list[dict]]:
    """The rows of `done` (an earlier run's table) at each point of this grid where it holds every
    paradigm asked for; other points are planned anew."""
    if [c for c in done.columns if c not in RESULT_COLUMNS] != varied:
        raise PlanError(f"the table there varies {', '.join(c for c in done.columns if c not in RESULT_COLUMNS)}, "
                        f"this sweep {', '.join(varied)}; use another --out, or the same --vary")
    rows = done[done.paradigm.isin(names)].astype(object).where(done.notna(), None)
    at: dict[tuple, list[dict]] = {}
    for r in rows.to_dict("records"):
        at.setdefault(tuple(_py(r[c]) for c in varied), []).append(r)
    out = {}
    for i, vals in points:
        have = at.get(tuple(vals[c] for c in varied), [])
        if {r["paradigm"] for r in have} >= set(names):
            out[i] = have
    return out


def _same_planning(scn: Scenario, points: list, taken: dict, names: list[str], methods: str) -> None:
    """Refuse an earlier table planned otherwise (another scenario file, --methods, EdgePlan's
    version): one of its points, planned again here, must come out the same."""
    i = next(iter(taken))
    again = {(r["paradigm"], r["method"]): r for r in plan_point(scn, points[i][1], names, methods)}
    there = {(r["paradigm"], r["method"]): r for r in taken[i]}
    where = ", ".join(f"{k}={v}" for k, v in points[i][1].items())
    if set(again) != set(there):
        raise PlanError(f"the table there was planned with other methods at {where} ({len(there)} plans, here "
                        f"{len(again)}: --methods differs?); use the same --methods, or another --out")
    for key, r in again.items():
        for c in ("round_latency_s", "energy_j", "objective"):
            a, b = (None if x is None or x != x else float(x) for x in (r.get(c), there[key].get(c)))
            if (a is None) != (b is None) or (a is not None and not math.isclose(a, b, rel_tol=1e-9)):
                raise PlanError(f"the table there was planned from another scenario (at {where}, {key[0]} by {key[1]}: "
                                f"{c} {b} there, {a} here); use another --out to plan it afresh")


def _py(v):
    return v.item() if isinstance(v, np.generic) else v


# ---------------------------------------------------------------- capacity

METRICS = ("round_latency_s", "energy_j", "device_energy_j", "comm_bytes", "training_latency_s", "epoch_time_s",
           "epoch_energy_j", "time_to_target_s", "energy_to_target_j", "rounds_to_target")


@dataclass
class CapacityResult:
    path: str
    metric: str
    target: float
    direction: str                 # least | most
    value: float | None
    metric_at_value: float | None
    monotone: bool
    probes: pd.DataFrame
    message: str


def _metric(scn: Scenario, path: str, value, paradigm: str, method: str | None, metric: str) -> float:
    try:
        v = variant(scn, {path: value})
        p = paradigms.get(paradigm).solve(CostModel(v), method)
    except InfeasibleError:
        return math.inf
    v = p.predicted.get(metric)
    if v is None:                          # a target the plan never reaches
        if metric in ("time_to_target_s", "energy_to_target_j", "rounds_to_target"):
            if "accuracy" not in p.predicted:
                raise PlanError(f"--target {metric} needs learning curves: set training.convergence and "
                                "training.target_accuracy in the scenario")
            if _no_curve(p):
                raise PlanError(f"--target {metric}: {_no_curve(p)}")
        return math.inf
    return float(v) if p.feasible or metric != "round_latency_s" else math.inf


def _default_range(path: str, cur: float, integer: bool, lo: float | None) -> tuple[float, float]:
    """The search range when --lo or --hi is not given: a factor of 100 either side of the current
    value; for a quantity in decibels, already logarithmic, 20 dB either side (the same factor)."""
    if integer:
        lo = 1.0 if lo is None else lo
        return lo, max(cur * 10, lo + 10)
    if path.rsplit(".", 1)[-1].endswith("_db"):
        return cur - 20, cur + 20
    if cur > 0:
        return cur / 100, cur * 100
    raise PlanError(f"{path} is {cur:g} in the scenario: there is no default range around a value that is not "
                    "positive; give the range with --lo and --hi")


def capacity(scn: Scenario, target: tuple[str, float], path: str, paradigm: str = "psl", method: str | None = None,
             lo=None, hi=None, rel_tol: float = 1e-4, probes: int = 9) -> CapacityResult:
    """The least (metric falls as the quantity grows) or most (metric grows with it) value of
    `path` with metric <= target."""
    metric, goal = target
    if metric not in METRICS:
        raise PlanError(f"--target {metric}: use one of {', '.join(METRICS)}")
    resolve(scn, path)
    integer = integer_field(path)
    raw = read(scn, path)
    try:
        cur = float(raw)
    except (TypeError, ValueError):       # unset (None) or a word (auto): no scale to search around
        if lo is None or hi is None:
            raise PlanError(f"{path} is {'not set' if raw is None else repr(raw)} in the scenario, so there is no "
                            "current value to search around: give the range with --lo and --hi") from None
        cur = float("nan")
    if lo is None or hi is None:
        d_lo, d_hi = _default_range(path, cur, integer, None if lo is None else float(lo))
        lo = d_lo if lo is None else lo
        hi = d_hi if hi is None else hi
    lo, hi = float(lo), float(hi)
    for end, v in (("--lo", lo), ("--hi", hi)):
        if not math.isfinite(v):
            raise PlanError(f"{end} {v:g}: the ends of the search must be finite numbers")
    lo, hi = min(lo, hi), max(lo, hi)         # the direction comes from the metric, not from how the range is written
    if integer:
        xs = np.unique(np.round(np.linspace(lo, hi, probes)))
    else:                                     # geometric where both ends are positive (a gain in dB may not be)
        xs = np.geomspace(lo, hi, probes) if lo > 0 else np.linspace(lo, hi, probes)
    vals = [_metric(scn, path, int(x) if integer else float(x), paradigm, method, metric) for x in xs]
    table = pd.DataFrame({path: xs, metric: vals, "meets": [v <= goal for v in vals]})
    finite = np.isfinite(vals)
    d = np.diff(np.array(vals)[finite])
    scale = np.nanmax(np.abs(np.array(vals)[finite])) if finite.any() else 1.0
    falling = np.all(d <= 1e-9 * scale)
    rising = np.all(d >= -1e-9 * scale)
    meets = table.meets.to_numpy()
    if not (falling or rising) or not (np.all(np.diff(meets.astype(int)) >= 0) or np.all(np.diff(meets.astype(int)) <= 0)):
        ok = ", ".join(f"{x:g}" for x in xs[meets])
        return CapacityResult(path, metric, goal, "?", None, None, False, table,
                              f"{paradigm}'s {metric} is not monotone in {path} over [{lo:g}, {hi:g}] (see the probes); bisection "
                              f"would not be reliable. Values meeting {metric} <= {goal:g}: {ok or 'none'}")
    direction = "least" if falling else "most"
    from .reports import quantity
    show = lambda x: quantity(path, int(x) if integer else float(x))  # noqa: E731
    if not meets.any():
        best = float(np.nanmin(vals))
        v, x = np.array(vals)[finite], xs[finite]
        ends = slice(-2, None) if falling else slice(0, 2)
        tv, tx = v[ends], x[ends]
        # levelled off: at the end of the range the metric hardly moves for a large move of the quantity
        elastic = abs(tv[1] - tv[0]) / abs(best) / max(abs(tx[1] - tx[0]) / max(abs(tx).min(), 1e-300), 1e-300) \
            if len(tv) == 2 and best else np.inf
        if elastic <= 0.05:
            why = _critical(scn, path, xs[-1] if falling else xs[0], paradigm, method)
            return CapacityResult(path, metric, goal, direction, None, None, True, table,
                                  f"{paradigm}'s {metric} levels off at {_metric_text(metric, best)} as {path} grows (limited by "
                                  f"{why}): no value of {path} reaches {_metric_text(metric, goal)}")
        return CapacityResult(path, metric, goal, direction, None, None, True, table,
                              f"no value of {path} from {show(lo)} to {show(hi)} meets {paradigm}'s {metric} <= "
                              f"{_metric_text(metric, goal)} (best {_metric_text(metric, best)}); widen the range "
                              f"with --lo/--hi")
    if meets.all():
        v = xs[0] if direction == "least" else xs[-1]
        return CapacityResult(path, metric, goal, direction, float(v), float(vals[0 if direction == "least" else -1]),
                              True, table, f"every probed value meets the target with {paradigm}; the {direction} probed is {show(v)} "
                                           "(widen the range with --lo/--hi to look further)")
    # bracket: a (fails) .. b (meets) for least; a (meets) .. b (fails) for most
    k = int(np.argmax(meets)) if direction == "least" else int(len(meets) - 1 - np.argmax(meets[::-1]))
    if direction == "least":
        fail, ok = xs[k - 1], xs[k]
    else:
        ok, fail = xs[k], xs[k + 1]
    while True:
        if integer:
            if abs(ok - fail) <= 1:
                break
            mid = int((ok + fail) // 2)
        else:
            if abs(ok - fail) <= rel_tol * abs(ok):
                break
            mid = math.sqrt(ok * fail) if ok > 0 and fail > 0 else 0.5 * (ok + fail)
        if _metric(scn, path, mid, paradigm, method, metric) <= goal:
            ok = mid
        else:
            fail = mid
    val = int(ok) if integer else float(ok)
    at = _metric(scn, path, val, paradigm, method, metric)
    return CapacityResult(path, metric, goal, direction, val, at, True, table,
                          f"the {direction} {path} with {paradigm} {metric} <= {_metric_text(metric, goal)} is "
                          f"{show(val)} ({metric} {_metric_text(metric, at)})")


def _metric_text(metric: str, v: float) -> str:
    from .tables import human
    return human(metric, float(v))


def _critical(scn: Scenario, path: str, value, paradigm: str, method) -> str:
    """What bounds the round at `value`: its critical node and phase."""
    try:
        p = paradigms.get(paradigm).solve(CostModel(variant(scn, {path: value})), method)
    except (InfeasibleError, PlanError):
        return "something other than this quantity"
    c = p.predicted.get("critical", {})
    return f"{c.get('node')} {c.get('phase')}"


# ---------------------------------------------------------------- Pareto fronts

PARETO_PARADIGMS = ("psl", "sl", "fpl")


def pareto(scn: Scenario, paradigm: str = "psl", points: int = 12, to_target: bool = False) -> pd.DataFrame:
    """The latency-energy front by epsilon-constraint: minimise energy subject to
    max_round_latency = eps for eps between the least-latency and the least-energy plans. With
    `to_target`, the axes are time and energy to the target accuracy (the plans' rounds to the
    target from the scenario's learning curves), and dominance is judged on them."""
    if to_target and (scn.spec.training.convergence is None or scn.spec.training.target_accuracy is None):
        raise PlanError("a front to the target accuracy needs learning curves: set training.convergence and "
                        "training.target_accuracy in the scenario")
    if paradigm not in PARETO_PARADIGMS:
        raise PlanError(f"pareto needs a paradigm whose solver minimises energy under a latency cap: "
                        f"{', '.join(PARETO_PARADIGMS)} (not {paradigm})")
    para = paradigms.get(paradigm)

    def solve(changes):
        try:
            v = variant(scn, changes)
            p = para.solve(CostModel(v))
            return p
        except InfeasibleError:
            return None

    if scn.spec.objective in ("time_to_target", "energy_to_target"):
        scn = variant(scn, {"objective": "latency"})   # the front's plans are chosen per round
    fast = solve({"objective": "latency", "constraints.max_round_latency": None})
    green = solve({"objective": "energy", "constraints.max_round_latency": None})
    if fast is None or green is None:
        raise InfeasibleError(f"{paradigm} has no feasible plan in this scenario")
    t0, t1 = fast.predicted["round_latency_s"], green.predicted["round_latency_s"]
    rows = [_front_row(fast, "least latency"), _front_row(green, "least energy")]
    if t1 > t0 * (1 + 1e-9):
        for eps in np.geomspace(t0, t1, points)[1:-1]:
            p = solve({"objective": "energy", "constraints.max_round_latency": float(eps)})
            if p is not None and p.feasible:
                rows.append(_front_row(p, f"energy, latency <= {fmt_si(eps, 's')}"))
    df = pd.DataFrame(rows)
    x, y = ("time_to_target_s", "energy_to_target_j") if to_target else ("round_latency_s", "energy_j")
    df = df[df[x].notna() & df[y].notna()].drop_duplicates(subset=[x, y])
    if to_target and _no_curve(fast):
        raise PlanError(f"--to-target: {_no_curve(fast)}")
    if df.empty:
        raise InfeasibleError(f"no {paradigm} plan reaches the target accuracy "
                              f"{scn.spec.training.target_accuracy:.0%} (the curves level off below it)")
    keep = [not _dominated(r, df, x, y) for _, r in df.iterrows()]
    return df[keep].sort_values(x).reset_index(drop=True)


def _no_curve(p) -> str:
    """Why a plan has no accuracy prediction (its configuration has no curve, or one no pilot
    foresees), or ''."""
    acc = p.predicted.get("accuracy") or {}
    if acc.get("value") is not None:
        return ""
    return f"{p.paradigm}'s accuracy is unpredictable: {acc.get('why')}" if acc.get("unpredictable") else \
        acc.get("why", "")


def _front_row(p, how: str) -> dict:
    pr = p.predicted
    return {"round_latency_s": pr["round_latency_s"], "energy_j": pr["energy_j"],
            "device_energy_j": pr["device_energy_j"], "comm_bytes": pr["comm_bytes"],
            "time_to_target_s": pr.get("time_to_target_s"), "energy_to_target_j": pr.get("energy_to_target_j"),
            "feasible": p.feasible, "how": how, "plan": p}


def _dominated(r, df, x: str = "round_latency_s", y: str = "energy_j") -> bool:
    better = (df[x] <= r[x]) & (df[y] <= r[y]) & ((df[x] < r[x]) | (df[y] < r[y]))
    return bool(better.any())
