"""HiGHS through pyomo's appsi interface: solve a model, load the solution only when there is one.

HiGHS writes to the C-level stdout (its log, and warnings from coefficient updates between
re-solves), which no Python redirection catches. Unless `verbose()` was called (the CLI's
`--verbose`), every solver is created with HiGHS' `output_flag` off, so nothing reaches the
console."""

from __future__ import annotations

_VERBOSE = False


def verbose(on: bool = True) -> None:
    """Let HiGHS write its log to the console (the CLI's --verbose)."""
    global _VERBOSE
    _VERBOSE = on


def is_verbose() -> bool:
    """Whether `verbose()` is on: other noisy libraries (Ray's log) follow the same switch."""
    return _VERBOSE


class Highs:
    """A reusable appsi_highs solver (persistent: re-solving after parameter changes is cheap)."""

    def __init__(self, time_limit: float = 120.0, mip_gap: float = 1e-9):
        import pyomo.environ as pyo
        self.opt = pyo.SolverFactory("appsi_highs")
        if not self.opt.available():
            raise RuntimeError("HiGHS is not available to pyomo (pip install highspy)")
        self.opt.config.time_limit = time_limit
        self.opt.config.mip_gap = mip_gap
        self.opt.config.stream_solver = _VERBOSE
        if not _VERBOSE:
            self.opt.highs_options = {"output_flag": False}
        self.status = None

    def solve(self, model) -> bool:
        """True when an optimal solution was found and loaded into the model."""
        from pyomo.opt import TerminationCondition as TC
        res = self.opt.solve(model, load_solutions=False)   # options persist in HiGHS for later updates
        self.status = res.solver.termination_condition
        if self.status != TC.optimal:
            return False
        model.solutions.load_from(res)
        return True
