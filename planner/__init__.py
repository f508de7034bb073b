"""EdgePlan's mathematical-programming core: scenarios, the cost model, paradigms, solvers."""

import os as _os

# torch's OpenMP threads otherwise spin after each parallel region and hold a core that the
# planner's numpy work (and other processes on a small machine) then wait for
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .errors import InfeasibleError, PlanError, ScenarioError
from .scenario import Scenario, load_scenario

__all__ = ["Scenario", "load_scenario", "ScenarioError", "InfeasibleError", "PlanError"]
__version__ = "0.1.0"
