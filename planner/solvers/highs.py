"""HiGHS through pyomo's appsi interface: solve a model, load the solution only when there is one."""

from __future__ import annotations


class Highs:
    """A reusable appsi_highs solver (persistent: re-solving after parameter changes is cheap)."""

    def __init__(self, time_limit: float = 120.0, mip_gap: float = 1e-9):
        import pyomo.environ as pyo
        self.opt = pyo.SolverFactory("appsi_highs")
        if not self.opt.available():
            raise RuntimeError("HiGHS is not available to pyomo (pip install highspy)")
        self.opt.config.time_limit = time_limit
        self.opt.config.mip_gap = mip_gap
        self.status = None

    def solve(self, model) -> bool:
        """True when an optimal solution was found and loaded into the model."""
        from pyomo.opt import TerminationCondition as TC
        res = self.opt.solve(model, load_solutions=False)
        self.status = res.solver.termination_condition
        if self.status != TC.optimal:
            return False
        model.solutions.load_from(res)
        return True
