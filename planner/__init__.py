"""EdgePlan's mathematical-programming core: scenarios, the cost model, paradigms, solvers."""

from .errors import InfeasibleError, PlanError, ScenarioError
from .scenario import Scenario, load_scenario

__all__ = ["Scenario", "load_scenario", "ScenarioError", "InfeasibleError", "PlanError"]
__version__ = "0.1.0"
