"""Solver status you can believe: on every shipped scenario, every method that calls its plan
"optimal" reaches the exact method's objective, and every plan's claimed objective is what
`evaluate` finds for it."""

from __future__ import annotations

from pathlib import Path

import pytest
from edgeplan import paradigms
from edgeplan.costs import CostModel
from edgeplan.errors import InfeasibleError, PlanError
from edgeplan.evaluation import evaluate_plan
from edgeplan.planfile import Plan
from edgeplan.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
SHIPPED = ["digits-small", "dsgd-chain", "fpl-fog", "psl-hetero", "pel-shannon", "measured-vgg19"]
EXACT = {"fl": "exact", "sl": "exact", "psl": "exact", "dsgd": "exact", "fpl": "exact", "pel": "joint"}


@pytest.mark.parametrize("scenario", SHIPPED)
@pytest.mark.parametrize("name", list(EXACT))
def test_claimed_optima_agree_and_hold(scenario, name):
    scn = load_scenario(SCENARIOS / f"{scenario}.yaml")
    cm = CostModel(scn)
    para = paradigms.get(name)
    try:
        exact = para.solve(cm, EXACT[name])
    except (InfeasibleError, PlanError):
        pytest.skip(f"{name} has no plan on {scenario}")
    want = exact.objective["value"]
    for method, spec in para.solvers.items():
        if spec.kind not in ("exact", "milp", "convex") or not spec.available(cm):
            continue
        plan = exact if method == EXACT[name] else para.solve(cm, method)
        got = plan.objective["value"]
        if plan.solver["status"] == "optimal":
            assert got == pytest.approx(want, rel=2e-6), f"{name} {method} claims optimal at {got}, exact {want}"
        else:
            assert got >= want * (1 - 1e-9), f"{name} {method} beats the exact method"
        # the claim is the plan's own value, as evaluate finds it
        _, again = evaluate_plan(scn, Plan.from_dict(plan.to_dict()))
        assert again.objective["value"] == pytest.approx(got, rel=1e-9)
