"""Cost a plan file against a scenario: the plan must fit the scenario (its nodes, cut range,
shares), and its costs come from the one cost model."""

from __future__ import annotations

from . import paradigms
from .costs import CostModel, Costs
from .errors import PlanError
from .plan import Plan
from .scenario import Scenario


def evaluate_plan(scn: Scenario, plan: Plan, file: str | None = None) -> tuple[Costs, Plan]:
    """(costs, the plan re-built from the evaluation). Raises PlanError naming the file when the
    plan does not fit the scenario."""
    try:
        para = paradigms.get(plan.paradigm)
        cm = CostModel(scn)
        decisions = para.decode(cm, plan)
        costs = para.cost(cm, decisions)
    except PlanError as e:
        raise PlanError(f"{file}: {e}" if file else str(e)) from None
    fresh = para.to_plan(cm, decisions, costs, plan.solver.get("method", "given"), "evaluated", 0.0)
    return costs, fresh
