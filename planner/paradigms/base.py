"""What every paradigm provides: its decisions, their cost, plan encoding, and its solvers.

A paradigm is a small class: `cost(cm, decisions)` calls planner.costs, `rows`/`decode` turn
decisions into plan assignments and back, and `solvers` maps a method name to a function
returning a Solution. `solve` times the solver, costs its decisions with the one cost model and
builds the Plan, so a plan's objective is always what `evaluate` says of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..costs import CostModel, Costs
from ..errors import InfeasibleError, PlanError
from ..planfile import Plan
from ..solvers.common import Solution


@dataclass(frozen=True)
class SolverSpec:
    fn: Callable[[CostModel], Solution]
    kind: str                        # exact | milp | convex | heuristic | baseline
    description: str
    applies: Callable[[CostModel], bool] | None = None    # the scenarios the method is for (None: all)

    def available(self, cm: CostModel) -> bool:
        return self.applies is None or self.applies(cm)


class Paradigm:
    name = ""
    title = ""
    solvers: dict[str, SolverSpec] = {}
    default = ""
    fastest = ""      # the quickest method reaching the same optimum (sweeps use it); default if empty

    # -- to implement
    def cost(self, cm: CostModel, d: dict) -> Costs:
        raise NotImplementedError

    def rows(self, cm: CostModel, d: dict) -> tuple[list[dict], dict]:
        """Assignment rows (decision keys per node) and paradigm_detail."""
        raise NotImplementedError

    def decode(self, cm: CostModel, plan: Plan) -> dict:
        raise NotImplementedError

    def configuration(self, cm: CostModel, d: dict) -> str:
        """The decisions that change how the model learns, as a learning curve's key: the
        paradigm's name, plus e.g. fpl's junction and groups or pel's active workers."""
        return self.name

    def per_configuration(self, cm: CostModel, method: str) -> list[Solution]:
        """The method's best plan for each learning configuration it decides between (fpl: each
        junction and grouping); one plan where no decision changes learning."""
        return [self.solvers[method].fn(cm)]

    # -- shared
    def baselines(self) -> list[str]:
        return [k for k, s in self.solvers.items() if s.kind == "baseline"]

    def solve(self, cm: CostModel, method: str | None = None) -> Plan:
        method = method or self.default
        if method not in self.solvers:
            raise PlanError(f"unknown solver '{method}' for {self.name}; choose one of "
                            f"{', '.join(self.solvers)}")
        if not self.solvers[method].available(cm):
            ok = [m for m, s in self.solvers.items() if s.available(cm)]
            raise PlanError(f"{self.name} solver '{method}' does not apply to this scenario "
                            f"({self.solvers[method].description}); choose one of {', '.join(ok)}")
        t0 = time.perf_counter()
        if cm.to_target:
            sol, costs = self.best_to_target(cm, method)
        else:
            sol = self.solvers[method].fn(cm)
            costs = None
        elapsed = time.perf_counter() - t0
        costs = costs or self.cost(cm, sol.decisions)
        cap = cm.scn.spec.constraints.max_round_latency
        if (sol.status == "optimal" and cm.objective == "latency" and cap is not None
                and costs.round_latency > cap * (1 + 1e-9)):
            from ..units import fmt_si
            raise InfeasibleError(f"max_round_latency {fmt_si(cap, 's')} cannot be met: the least {self.name} round "
                                  f"is {fmt_si(costs.round_latency, 's')} (critical: {costs.critical_node}, "
                                  f"{costs.critical_phase})", node=costs.critical_node, resource="latency",
                                  needed=costs.round_latency, available=cap)
        return self.to_plan(cm, sol.decisions, costs, method, sol.status, elapsed, sol.gap, sol.info)

    def best_to_target(self, cm: CostModel, method: str) -> tuple[Solution, Costs]:
        """time_to_target / energy_to_target: each learning configuration's best plan (by round
        latency or energy, which fix the time or energy per round), scored with its learning
        curve; the least time (or energy) to the target wins, reachable before unreachable."""
        from ..curves import predictions
        key = "time_to_target_s" if cm.scn.spec.objective == "time_to_target" else "energy_to_target_j"
        best, why, any_curve = None, [], False
        for sol in self.per_configuration(cm, method):
            c = self.cost(cm, sol.decisions)
            conf = self.configuration(cm, sol.decisions)
            pr = predictions(cm.scn, self.name, conf, c.round_latency, c.energy, c.samples)
            v = pr.get(key)
            # an unpredictable curve is a curve: planned by its round's cost, its plan says so
            any_curve = any_curve or pr["accuracy"].get("value") is not None or bool(pr["accuracy"].get("unpredictable"))
            if v is None:
                why.append(f"{conf}: " + (pr["accuracy"].get("why") or
                                          f"plateau {pr['accuracy']['plateau']:.1%} below the target"))
            score = (0 if v is not None and c.feasible else 1, v if v is not None else np.inf,
                     c.objective(cm.objective))
            if best is None or score < best[0]:
                best = (score, sol, c)
        if not any_curve:
            raise PlanError(f"{self.name}: no learning curve for any configuration ({'; '.join(why[:3])})")
        return best[1], best[2]

    def evaluate(self, cm: CostModel, plan: Plan) -> Costs:
        return self.cost(cm, self.decode(cm, plan))

    def to_plan(self, cm: CostModel, d: dict, costs: Costs, method: str, status: str, time_s: float,
                gap: float | None = None, info: dict | None = None) -> Plan:
        from ..curves import predictions
        rows, detail = self.rows(cm, d)
        free = cm.without_channel()
        if free:                         # a share means nothing on a node without a channel
            rows = [{k: v for k, v in r.items() if not (k.startswith("channel_share") and r["node"] in free)}
                    if r["node"] in free else r for r in rows]
        obj = cm.scn.spec.objective
        name = obj if isinstance(obj, str) else "weighted"
        predicted = costs.predicted()
        predicted["feasible"] = costs.feasible
        predicted["violations"] = list(costs.violations)
        predicted.update(predictions(cm.scn, self.name, self.configuration(cm, d), costs.round_latency,
                                     costs.energy, costs.samples))
        value = predicted.get("time_to_target_s" if obj == "time_to_target" else "energy_to_target_j") \
            if cm.to_target else costs.objective(obj)
        cols = costs.node_columns          # plain arrays: the solvers build plans in loops
        pos = {n: i for i, n in enumerate(costs.node_names)}
        listed = {r["node"] for r in rows}
        out = [_with_metrics(dict(r), pos[r["node"]], cols) for r in rows]
        took_part = (cols["compute_s"] > 0) | (cols["up_bytes"] > 0) | (cols["down_bytes"] > 0) | \
            (cols["memory_bytes"] > 0) | (cols["rx_s"] > 0)
        for i in np.flatnonzero(took_part):  # servers, fog, trunk and stage nodes that took part
            n = costs.node_names[i]
            if n not in listed:
                out.append(_with_metrics({"node": n, "role": str(cols["role"][i])}, i, cols))
        detail = {**detail, **(info or {})}
        return Plan(scenario=cm.scn.name, scenario_sha256=cm.scn.sha256, paradigm=self.name,
                    solver={"method": method, "status": status, "time_s": float(time_s),
                            "gap": None if gap is None else float(gap)},
                    objective={"name": name, "value": None if value is None else float(value)},
                    predicted=_py(predicted), assignments=_py(out), paradigm_detail=_py(detail))

    # -- helpers for decode
    # the keys an assignment row may carry: what a paradigm decides, and what every plan reports
    decision_keys: tuple[str, ...] = ()

    def device_rows(self, cm: CostModel, plan: Plan, keys: tuple[str, ...]) -> list[dict]:
        """The plan's device rows, in the scenario's device order: every device once, every node
        defined, no decision of another paradigm (a plan relabelled must not pass)."""
        rows, seen = [], set()
        for r in plan.assignments:
            n = r["node"]
            if n not in cm.idx:
                raise PlanError(f"plan names node {_q(n)}, which the scenario does not define")
            foreign = [k for k in r if k not in ROW_KEYS and k not in self.decision_keys]
            if foreign:
                owner = next((p for p, ks in DECISIONS.items() if foreign[0] in ks), None)
                raise PlanError(f"assignment of '{n}' has {_q(foreign[0])}, which {self.name} plans do not have"
                                + (f" (a {owner} decision: is this a {owner} plan?)" if owner else ""))
            if cm.role[cm.idx[n]] == "device":
                if n in seen:
                    raise PlanError(f"device '{n}' has two assignments")
                seen.add(n)
                if n in cm.without_channel() and "channel_share" in keys and "channel_share" not in r:
                    r = {**r, "channel_share": 1.0}   # no channel: the device's links are its own
                missing = [k for k in keys if k not in r]
                if missing:
                    raise PlanError(f"assignment of '{n}' lacks '{missing[0]}'")
                rows.append(r)
        unknown = [d for d in cm.devices if d not in seen]
        if unknown and keys:
            raise PlanError(f"the plan has no assignment for device '{unknown[0]}' (was the scenario changed? "
                            "re-plan with `edgeplan plan`)")
        order = {d: i for i, d in enumerate(cm.devices)}
        return sorted(rows, key=lambda r: order[r["node"]])


ROW_KEYS = {"node", "role", "round_latency_s", "energy_j", "up_bytes", "down_bytes", "memory_bytes"}
DECISIONS = {"fl": ("channel_share",), "sl": ("cut", "channel_share"),
             "psl": ("cut", "channel_share", "server_share", "server"), "dsgd": ("stage", "units"),
             "fpl": ("group", "junction", "channel_share", "server_share"),
             "pel": ("parameters", "channel_share", "bandwidth_hz", "block", "units", "channel_share_down",
                     "bandwidth_down_hz")}


def _q(v) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def integer(row: dict, key: str, lo: int | None = None, hi: int | None = None, why: str = "") -> int:
    """An assignment's integer field, range-checked (a boolean or a string is not an integer)."""
    v = row.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or (isinstance(v, float) and not v.is_integer()):
        raise PlanError(f"assignment of '{row['node']}': {key} must be an integer, got {_q(v)}")
    v = int(v)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise PlanError(f"assignment of '{row['node']}': {key} {v} out of range: "
                        + (f"{why}, so a {key} is an integer in {lo}..{hi}" if why else f"{lo}..{hi}"))
    return v


def number(row: dict, key: str, lo: float | None = None, hi: float | None = None, default=None) -> float:
    """An assignment's numeric field, finite and range-checked."""
    v = row.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
        raise PlanError(f"assignment of '{row['node']}': {key} must be a finite number, got {_q(v)}")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        rng = f"[{lo:g}, {hi:g}]" if hi is not None else f"at least {lo:g}"
        raise PlanError(f"assignment of '{row['node']}': {key} {v:g} out of range {rng}")
    return float(v)


def text(row: dict, key: str) -> str:
    v = row.get(key)
    if not isinstance(v, str):
        raise PlanError(f"assignment of '{row['node']}': {key} must be a name (a string), got {_q(v)}")
    return v


def detail_node(cm: CostModel, plan: Plan, key: str, roles=("server", "fog", "cloud")) -> str:
    """A node named in paradigm_detail (the server, the trunk), defined and of a server role."""
    v = plan.paradigm_detail.get(key)
    if v is None:
        return cm.server()
    if not isinstance(v, str) or v not in cm.idx:
        raise PlanError(f"paradigm_detail.{key}: {_q(v)} is not a node of the scenario")
    if cm.role[cm.idx[v]] not in roles:
        raise PlanError(f"paradigm_detail.{key}: '{v}' is a {cm.role[cm.idx[v]]}; it must be one of {', '.join(roles)}")
    return v


def _with_metrics(row: dict, i: int, cols: dict) -> dict:
    if cols["role"][i] == "device":
        row["round_latency_s"] = float(cols["latency_s"][i])
    row["energy_j"] = float(cols["energy_j"][i])
    row["up_bytes"] = float(cols["up_bytes"][i])
    row["down_bytes"] = float(cols["down_bytes"][i])
    row["memory_bytes"] = float(cols["memory_bytes"][i])
    return row


_PLAIN = (str, int, bool, type(None))


def _py(x):
    """numpy scalars and arrays -> plain Python, so plans serialise and compare exactly."""
    t = type(x)
    if t is float:                        # the common cases first: plans of 100,000 rows
        return x if x == x else None
    if t in _PLAIN:
        return x
    if t is dict:                         # plan rows: mostly str keys and float values, inlined
        return {k if type(k) is str else str(k):
                (v if v == v else None) if type(v) is float else v if type(v) in _PLAIN else _py(v)
                for k, v in x.items()}
    if isinstance(x, dict):
        return {str(k): _py(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_py(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_py(v) for v in x.tolist()]
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return None if x != x else x      # JSON has no NaN: the plan holds what its file will hold
    return x


