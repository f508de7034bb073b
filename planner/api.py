"""The Python API: the same work as the `edgeplan` command, returning data instead of printing.

    import edgeplan
    scn = edgeplan.load("scenarios/digits-small.yaml")
    plan = edgeplan.plan(scn, "psl")               # a Plan: .predicted, .assignments_df, .to_json()
    best = edgeplan.compare(scn)                    # DataFrame: each paradigm's best plan
    again = edgeplan.evaluate(scn, plan)            # the plan costed anew (a file name works too)
    run = edgeplan.validate(scn, plan, rounds=3)    # trained for real: run.summary(), run.rounds
    curves = edgeplan.calibrate(scn, "curves.csv", ["fl", "psl"], rounds=6)   # learning curves, a table

Scenario arguments take a Scenario or a path; plan arguments a Plan or a path to its JSON.
Errors are the CLI's: ScenarioError and PlanError (bad input), InfeasibleError.
"""

from __future__ import annotations

from pathlib import Path

from .errors import PlanError
from .planfile import Plan
from .scenario import Scenario, load_scenario


def load(path: str | Path) -> Scenario:
    """A scenario file, validated (edgeplan.ScenarioError names the file, line, field and fix)."""
    return load_scenario(path)


def _scenario(scn) -> Scenario:
    return scn if isinstance(scn, Scenario) else load_scenario(scn)


def _plan(plan) -> Plan:
    return plan if isinstance(plan, Plan) else Plan.load(plan)


def plan(scenario, paradigm: str, solver: str | None = None) -> Plan:
    """Optimise one paradigm (fl, sl, psl, dsgd, fpl, pel) with its best method, or `solver`."""
    from . import paradigms
    from .costs import CostModel
    return paradigms.get(paradigm).solve(CostModel(_scenario(scenario)), solver)


def compare(scenario, paradigms=None, all_methods: bool = False):
    """Each paradigm's best plan (or, with all_methods, every method's) as a DataFrame, ranked as
    `edgeplan compare` ranks them."""
    from .comparison import compare_table
    every, best = compare_table(_scenario(scenario), paradigms, all_methods=all_methods)
    return every if all_methods else best


def evaluate(scenario, plan) -> Plan:
    """A plan costed anew against the scenario (with the decoder `edgeplan evaluate` uses)."""
    from .evaluation import evaluate_plan
    p = _plan(plan)
    _, fresh = evaluate_plan(_scenario(scenario), p, None if isinstance(plan, Plan) else str(plan))
    return fresh


def validate(scenario, plan, rounds: int | None = None, executor: str = "inprocess", out_dir=None,
             resume: bool = False, seed: int | None = None):
    """Train the plan for real (in this process, or one process per node with executor
    'distributed'); a RunResult with .summary(), .rounds, .nodes."""
    if rounds is not None and not (isinstance(rounds, int) and rounds >= 1):
        raise PlanError(f"rounds={rounds!r}: give a whole number of rounds from 1 (None: training.rounds)")
    scn, p = _scenario(scenario), _plan(plan)
    if executor == "inprocess":
        from edgeplan.validation.runner import run_inprocess
        return run_inprocess(scn, p, rounds, out_dir, resume, seed=seed)
    if executor == "distributed":
        if scn.source is None:
            raise PlanError("the distributed executor's processes read the scenario from its file: load it from one")
        from edgeplan.validation.distributed import run_distributed
        return run_distributed(scn.source, p, rounds, out_dir, resume, seed=seed)
    raise PlanError(f"executor '{executor}': use inprocess or distributed")


def calibrate(scenario, out, paradigms=None, rounds: int | None = None, seeds: int = 2, resume: bool = False,
              progress: bool = False, ceiling_rounds: int | None = None):
    """Pilot-train each paradigm's best plan (fpl at each junction considered), fit the learning
    curves and write their table to `out` (what `edgeplan calibrate` does); the curves, each with
    .predict(rounds) and .rounds_to(target). `rounds` defaults to a fifth of training.rounds (at
    least 5); `resume` continues into the same `out`, or lengthens its pilots. `ceiling_rounds`:
    the centralised reference run's length, whose accuracy bounds the plateaus (default twice
    training.rounds; 0 skips it)."""
    from . import paradigms as P
    names = list(paradigms or P.NAMES) if not isinstance(paradigms, str) else [paradigms]
    for n in names:
        P.get(n)
    if not (isinstance(seeds, int) and 1 <= seeds <= 1000):
        raise PlanError(f"seeds={seeds!r}: give 1 to 1000 runs per configuration")
    if rounds is not None and not (isinstance(rounds, int) and rounds >= 1):
        raise PlanError(f"rounds={rounds!r}: give a whole number of pilot rounds from 1 (None: a fifth of "
                        "training.rounds)")
    if ceiling_rounds is not None and not (isinstance(ceiling_rounds, int) and ceiling_rounds >= 0):
        raise PlanError(f"ceiling_rounds={ceiling_rounds!r}: give a whole number of rounds (0 skips the centralised "
                        "reference run; None: twice training.rounds)")
    scn = _scenario(scenario)
    from edgeplan.validation.calibrate import calibrate as run_calibration
    from edgeplan.validation.calibrate import not_learning

    from .calibration import default_pilot_rounds
    k = rounds or default_pilot_rounds(scn)
    curves, _ = run_calibration(scn, names, k, seeds, Path(out), resume, progress=progress,
                                ceiling_rounds=ceiling_rounds)
    if note := not_learning(scn, curves):          # the command prints it; a notebook sees a warning
        import warnings
        warnings.warn(note.removeprefix("note: "), UserWarning, stacklevel=2)
    return curves
