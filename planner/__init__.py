"""EdgePlan: plan how to train a DNN across edge devices, servers, fog and cloud, and prove the
plan by training it. `edgeplan.load`, `plan`, `compare`, `evaluate`, `validate` and `calibrate` do in Python
what the `edgeplan` command does (edgeplan.api); the parts: edgeplan.scenario, .costs,
.paradigms, .solvers (the planner), edgeplan.models (the DNN side), edgeplan.validation."""

import os as _os

# torch's OpenMP threads otherwise spin after each parallel region and hold a core that the
# planner's numpy work (and other processes on a small machine) then wait for
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .api import calibrate, compare, evaluate, load, plan, validate  # noqa: E402
from .errors import InfeasibleError, PlanError, ScenarioError  # noqa: E402
from .planfile import Plan  # noqa: E402
from .scenario import Scenario, load_scenario  # noqa: E402

__all__ = ["load", "plan", "compare", "evaluate", "validate", "calibrate", "Plan", "Scenario", "load_scenario",
           "ScenarioError", "InfeasibleError", "PlanError"]
__version__ = "0.2.0"
