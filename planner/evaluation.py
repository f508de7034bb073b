"""Decode and cost a plan file against a scenario: the one path `evaluate` and `validate` share.
The plan must be for this scenario, of a known paradigm, and fit the scenario (its nodes, cut
range, shares, blocks); its costs come from the one cost model."""

from __future__ import annotations

from dataclasses import dataclass

from . import paradigms
from .costs import CostModel, Costs
from .errors import PlanError
from .planfile import Plan
from .scenario import Scenario


@dataclass
class Decoded:
    paradigm: object           # planner.paradigms.base.Paradigm
    cm: CostModel
    decisions: dict
    costs: Costs


def decode_plan(scn: Scenario, plan: Plan, file: str | None = None) -> Decoded:
    """The plan's decisions, every value checked, and their costs. Raises PlanError naming the
    file when the plan is not for this scenario or does not fit it."""
    where = f"{file}: " if file else ""
    if plan.scenario != scn.name:
        raise PlanError(f"{where}the plan was made for scenario '{plan.scenario[:60]}', not '{scn.name}'; plan this "
                        f"scenario with `edgeplan plan`")
    try:
        para = paradigms.get(plan.paradigm)
        cm = CostModel(scn)
        decisions = para.decode(cm, plan)
        costs = para.cost(cm, decisions)
        if not costs.round_latency < float("inf"):
            never = [v for v in costs.violations if "never ends" in v]
            raise PlanError((never or ["the plan's round never ends"])[0] + " (a channel_share of 0?)")
    except PlanError as e:
        raise PlanError(f"{where}{e}") from None
    return Decoded(para, cm, decisions, costs)


def evaluate_plan(scn: Scenario, plan: Plan, file: str | None = None) -> tuple[Costs, Plan]:
    """(costs, the plan re-built from the evaluation)."""
    d = decode_plan(scn, plan, file)
    method = plan.solver.get("method", "given")
    fresh = d.paradigm.to_plan(d.cm, d.decisions, d.costs, method if isinstance(method, str) else "given",
                               "evaluated", 0.0)
    return d.costs, fresh
